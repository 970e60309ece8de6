package dev.pipellm.speculator.replay;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReplayToolTest {
    @Test
    void shouldPrintTableAndWriteJsonWhenAskedForAWorkload(@TempDir Path tmp) throws Exception {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final Path json = tmp.resolve("r.json");
        final int rc = Replay.run(new String[] {"--workload", "accelerate-opt30b,vllm-swap-code", "--requests", "150",
            "--json", json.toString()}, new PrintStream(bytes, true, StandardCharsets.UTF_8));
        assertEquals(0, rc);
        final String text = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("accelerate-opt30b") && text.contains("cover %"), text);
        final String j = Files.readString(json);
        assertTrue(j.contains("\"name\": \"vllm-swap-code\"") && j.contains("\"coverage\""), j);
        assertTrue(j.contains("\"steady_state\""), j);
    }

    @Test
    void shouldRejectUnknownWorkloadsNamingTheKnownOnes() {
        final IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Replay.run(new String[] {"--workload", "nope"}, System.out));
        assertTrue(e.getMessage().contains("flexgen-opt30b"), e.getMessage());
    }

    @Test
    void shouldFailNamingThePathWhenTheSharedOptionPointsNowhere(@TempDir Path tmp) {
        final IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Replay.run(new String[] {"--workload", "vllm-swap-conv", "--shared",
                    tmp.resolve("missing").toString()}, System.out));
        assertTrue(e.getMessage().contains("missing") && e.getMessage().contains("pipellm.shared.dir"),
                e.getMessage());
    }
}
