package dev.pipellm.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Runs bench/src/test/sh/trace_cli_test.sh: the launcher's trace and bench workloads commands, end to end. */
class TraceCliTest {
    @Test
    void shouldPassEveryLauncherCheckWhenRun() throws Exception {
        final Path root = Path.of(System.getenv().getOrDefault("PIPELLM_ROOT", "..")).toAbsolutePath().normalize();
        final Process p = new ProcessBuilder(root.resolve("bench/src/test/sh/trace_cli_test.sh").toString(),
                root.toString()).redirectErrorStream(true).start();
        final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        final int rc = p.waitFor();
        System.out.print(out);
        assertTrue(out.contains(" passed, 0 failed"), out);
        assertEquals(0, rc, out);
    }
}
