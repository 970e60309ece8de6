package dev.pipellm.agent.bridge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pipellm.agent.stats.StatCounter;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** An AES-GCM engine that fails its self-test is never used: OpenSSL does the messages, bytes unchanged. */
class SelfTestFailureTest {
    @Test
    void aFailedSelfTestLeavesEveryMessageToOpenSsl() throws Throwable {
        Random rnd = new Random(3);
        byte[] key = new byte[32], iv = new byte[12], data = new byte[70_001];
        rnd.nextBytes(key);
        rnd.nextBytes(iv);
        rnd.nextBytes(data);
        ShimSim.Message want;
        try (ShimSim plain = new ShimSim("mode=passthrough")) {
            want = plain.run(true, key, iv, data, new int[] {1000, 40_000}, null);
        }
        for (String mode : new String[] {"sync", "pipellm"}) {
            try (ShimSim s = new ShimSim("mode=" + mode + ",inject_fault=self_test:1,log=off")) {
                ShimSim.Message got = s.run(true, key, iv, data, new int[] {1000, 40_000}, null);
                assertArrayEquals(want.out(), got.out(), mode);
                assertArrayEquals(want.tag(), got.tag(), mode);
                assertEquals(0, s.count(StatCounter.AGENT_ENCRYPTED_MESSAGES), mode + ": the agent's engine is not used");
                assertTrue(s.count(StatCounter.COLD_START_MESSAGES) > 0, mode + ": OpenSSL did the message");
            }
        }
    }
}
