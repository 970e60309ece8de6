package dev.pipellm.agent.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pipellm.agent.config.Config;
import dev.pipellm.agent.stats.StatCounter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StatsJsonTest {
    @TempDir
    Path dir;

    @Test
    void shouldWriteOneFlatObjectWithEveryCounterOnceWhenExiting() throws Exception {
        Path file = dir.resolve("sub/stats.json");
        AgentRuntime rt = new AgentRuntime(Config.parse("mode=sync,stats=" + file), null, Bridge.ROLE_PRELOAD);
        Upcalls.install(rt);
        Upcalls.onCopy(0, 1, 3, 2, 3, 3, 1, 1, 0);
        Upcalls.onCopy(0, 1, 3, 2, 3, 3, 1, 1, 0);
        Upcalls.onSync(0, 0, 0, 0);
        Upcalls.onExit();

        String json = Files.readString(file);
        Map<String, String> kv = new LinkedHashMap<>();
        Matcher m = Pattern.compile("\"(\\w+)\":\\s*(\"[^\"]*\"|\\d+)").matcher(json);
        while (m.find()) kv.put(m.group(1), m.group(2));
        assertTrue(json.strip().startsWith("{") && json.strip().endsWith("}"), json);
        assertEquals("\"sync\"", kv.get("mode"));
        for (StatCounter c : StatCounter.values()) assertTrue(kv.containsKey(c.key), c.key + " in " + json);
        assertEquals(StatCounter.values().length + 1, kv.size());
        assertEquals("2", kv.get("intercepted_copies"));
        assertEquals("1", kv.get("intercepted_syncs"));
        assertEquals("0", kv.get("fast_path_messages"));
        for (String k : new String[] {"h2d_messages", "d2h_messages", "agent_encrypted_messages",
            "agent_decrypted_messages", "slow_path_messages", "fallbacks", "tag_failures", "agent_errors"}) {
            assertEquals("0", kv.get(k), k);
        }

        Files.delete(file);
        Upcalls.onExit();
        assertFalse(Files.exists(file), "on_exit writes once");
    }
}
