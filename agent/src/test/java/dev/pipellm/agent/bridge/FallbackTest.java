package dev.pipellm.agent.bridge;

import static dev.pipellm.agent.bridge.SyncModeDifferentialTest.bytes;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pipellm.agent.stats.StatCounter;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** An agent fault in the middle of a message degrades that message to the real OpenSSL: same bytes. */
class FallbackTest {
    private static final int SIZE = 200_001;
    private static final int[] FIVE_UPDATES = {1, 40_000, 40_017, 150_000};

    @Test
    void shouldReplayThroughOpenSslWhenTheThirdUpdateThrows() throws Throwable {
        Random rnd = new Random(3);
        try (ShimSim shim = new ShimSim("mode=sync,inject_fault=evp_update:3")) {
            byte[] key = bytes(rnd, 32), iv = bytes(rnd, 12), pt = bytes(rnd, SIZE);
            byte[] ref = OpenSsl.encrypt(key, iv, pt);
            ShimSim.Message m = shim.run(true, key, iv, pt, FIVE_UPDATES, null);
            assertTrue(m.updatesOk());
            assertEquals(1, m.finalResult());
            assertArrayEquals(Arrays.copyOf(ref, SIZE), m.out());
            assertArrayEquals(Arrays.copyOfRange(ref, SIZE, SIZE + 16), m.tag());
            assertEquals(1, shim.count(StatCounter.FALLBACKS));
            assertEquals(0, shim.count(StatCounter.AGENT_ENCRYPTED_MESSAGES), "OpenSSL finished the message");
            // updates 3..5, final and GET_TAG went to OpenSSL
            assertEquals(5, shim.passedCalls);

            // the next message is the agent's again
            ShimSim.Message next = shim.run(true, key, bytes(rnd, 12), pt, FIVE_UPDATES, null);
            assertEquals(1, next.finalResult());
            assertEquals(1, shim.count(StatCounter.AGENT_ENCRYPTED_MESSAGES));
            assertEquals(1, shim.count(StatCounter.FALLBACKS));
        }
    }

    @Test
    void shouldReplayDecryptionWithItsTagWhenAnUpdateThrows() throws Throwable {
        Random rnd = new Random(4);
        try (ShimSim shim = new ShimSim("mode=sync,inject_fault=evp_update:2")) {
            byte[] key = bytes(rnd, 32), iv = bytes(rnd, 12), pt = bytes(rnd, SIZE);
            byte[] ref = OpenSsl.encrypt(key, iv, pt);
            byte[] ct = Arrays.copyOf(ref, SIZE), tag = Arrays.copyOfRange(ref, SIZE, SIZE + 16);
            ShimSim.Message d = shim.run(false, key, iv, ct, FIVE_UPDATES, tag);
            assertEquals(1, d.finalResult());
            assertArrayEquals(pt, d.out());
            assertEquals(1, shim.count(StatCounter.FALLBACKS));
            byte[] bad = tag.clone();
            bad[0] ^= 1;
            assertEquals(0, shim.run(false, key, iv, ct, FIVE_UPDATES, bad).finalResult());
        }
    }

    @Test
    void shouldReplayWholeMessageWhenTheFinalThrows() throws Throwable {
        Random rnd = new Random(5);
        try (ShimSim shim = new ShimSim("mode=sync,inject_fault=evp_final:1")) {
            byte[] key = bytes(rnd, 32), iv = bytes(rnd, 12), pt = bytes(rnd, SIZE);
            byte[] ref = OpenSsl.encrypt(key, iv, pt);
            ShimSim.Message m = shim.run(true, key, iv, pt, FIVE_UPDATES, null);
            assertEquals(1, m.finalResult());
            assertArrayEquals(Arrays.copyOf(ref, SIZE), m.out());
            assertArrayEquals(Arrays.copyOfRange(ref, SIZE, SIZE + 16), m.tag());
            assertEquals(1, shim.count(StatCounter.FALLBACKS));
        }
    }

    @Test
    void shouldRefuseTheMessageWhenFailClosed() throws Throwable {
        Random rnd = new Random(6);
        try (ShimSim shim = new ShimSim("mode=sync,fail_closed=1,inject_fault=evp_update:3")) {
            byte[] key = bytes(rnd, 32), iv = bytes(rnd, 12), pt = bytes(rnd, SIZE);
            ShimSim.Message m = shim.run(true, key, iv, pt, FIVE_UPDATES, null);
            assertTrue(!m.updatesOk());
            assertEquals(0, m.finalResult());
            assertEquals(0, shim.passedCalls, "nothing of a refused message reaches OpenSSL");
            assertEquals(1, shim.count(StatCounter.FALLBACKS));
            assertEquals(1, shim.count(StatCounter.REFUSED_MESSAGES));
        }
    }

    @Test
    void shouldLeaveColdMessagesToOpenSslAndTimeThemForTheWarmUp() throws Throwable {
        Random rnd = new Random(7);
        try (ShimSim shim = new ShimSim("mode=sync,cold_start=openssl")) {
            byte[] key = bytes(rnd, 32), iv = bytes(rnd, 12), pt = bytes(rnd, SIZE);
            byte[] ref = OpenSsl.encrypt(key, iv, pt);
            ShimSim.Message m = shim.run(true, key, iv, pt, FIVE_UPDATES, null);
            assertArrayEquals(Arrays.copyOf(ref, SIZE), m.out());
            assertArrayEquals(Arrays.copyOfRange(ref, SIZE, SIZE + 16), m.tag());
            assertEquals(1, shim.count(StatCounter.COLD_START_MESSAGES));
            assertEquals(0, shim.count(StatCounter.AGENT_ENCRYPTED_MESSAGES));
            assertEquals(7, shim.passedCalls, "five updates, the final and GET_TAG all went to OpenSSL");
            assertEquals(SIZE, shim.runtime.warmUp.openSslBytesObserved(), "the warm-up's yardstick");
        }
    }
}
