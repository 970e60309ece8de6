package dev.pipellm.agent.bridge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pipellm.agent.stats.StatCounter;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** sync mode: the agent's bytes and tags equal OpenSSL's, call by call. */
class SyncModeDifferentialTest {
    private static final int[] SIZES = {0, 1, 15, 16, 17, 31, 255, 4095, 4096, 65535, 65536, 65537, 100_003,
        (1 << 20) + 7, (4 << 20) - 3, 4 << 20};

    @Test
    void shouldEqualOpenSslByteForByteWhenEncryptingRandomMessagesInOddUpdates() throws Throwable {
        Random rnd = new Random(0x5EED);
        try (ShimSim shim = new ShimSim("mode=sync")) {
            int messages = 0;
            for (int size : SIZES) {
                for (int rep = 0; rep < (size > 200_000 ? 1 : 3); rep++) {
                    byte[] key = bytes(rnd, 32), iv = bytes(rnd, 12), pt = bytes(rnd, size);
                    int[] cuts = ShimSim.cuts(rnd, size);
                    byte[] ref = OpenSsl.encrypt(key, iv, pt);
                    ShimSim.Message m = shim.run(true, key, iv, pt, cuts, null);
                    messages++;
                    String what = "size " + size + " cuts " + Arrays.toString(cuts);
                    assertTrue(m.updatesOk(), what);
                    assertEquals(1, m.finalResult(), what);
                    assertArrayEquals(Arrays.copyOf(ref, size), m.out(), what);
                    assertArrayEquals(Arrays.copyOfRange(ref, size, size + 16), m.tag(), what);

                    // decrypt round trip through the agent, with other cuts
                    ShimSim.Message d = shim.run(false, key, iv, m.out(), ShimSim.cuts(rnd, size), m.tag());
                    assertEquals(1, d.finalResult(), what);
                    assertTrue(d.updatesOk(), what);
                    assertArrayEquals(pt, d.out(), what);
                }
            }
            assertEquals(0, shim.passedCalls, "every update/final/tag call was the agent's");
            assertEquals(messages, shim.count(StatCounter.AGENT_ENCRYPTED_MESSAGES));
            assertEquals(messages, shim.count(StatCounter.AGENT_DECRYPTED_MESSAGES));
            assertEquals(messages, shim.count(StatCounter.H2D_MESSAGES));
            assertEquals(messages, shim.count(StatCounter.D2H_MESSAGES));
            assertEquals(2L * messages, shim.count(StatCounter.SLOW_PATH_MESSAGES));
            assertEquals(0, shim.count(StatCounter.FALLBACKS));
            assertEquals(0, shim.count(StatCounter.TAG_FAILURES));
            assertEquals(0, shim.runtime.evp().trackedContexts(), "evp_forget dropped every context");
        }
    }

    @Test
    void shouldFailDecryptFinalWhenCiphertextBitOrTagIsWrong() throws Throwable {
        Random rnd = new Random(7);
        try (ShimSim shim = new ShimSim("mode=sync")) {
            for (int size : new int[] {1, 16, 1000, 70_001}) {
                byte[] key = bytes(rnd, 32), iv = bytes(rnd, 12), pt = bytes(rnd, size);
                byte[] ref = OpenSsl.encrypt(key, iv, pt);
                byte[] ct = Arrays.copyOf(ref, size), tag = Arrays.copyOfRange(ref, size, size + 16);

                byte[] flipped = ct.clone();
                flipped[rnd.nextInt(size)] ^= (byte) (1 << rnd.nextInt(8));
                assertEquals(0, shim.run(false, key, iv, flipped, ShimSim.cuts(rnd, size), tag).finalResult());

                byte[] badTag = tag.clone();
                badTag[15] ^= 1;
                assertEquals(0, shim.run(false, key, iv, ct, ShimSim.cuts(rnd, size), badTag).finalResult());

                assertEquals(1, shim.run(false, key, iv, ct, ShimSim.cuts(rnd, size), tag).finalResult());
            }
            assertEquals(8, shim.count(StatCounter.TAG_FAILURES));
            assertEquals(0, shim.passedCalls);
        }
    }

    @Test
    void shouldEncryptWhenTheSameKeyAndIvComeTwice() throws Throwable {
        Random rnd = new Random(11);
        try (ShimSim shim = new ShimSim("mode=sync")) {
            byte[] key = bytes(rnd, 32), iv = bytes(rnd, 12), pt = bytes(rnd, 333);
            byte[] ref = OpenSsl.encrypt(key, iv, pt);
            for (int i = 0; i < 2; i++) {
                ShimSim.Message m = shim.run(true, key, iv, pt, new int[] {100}, null);
                assertArrayEquals(Arrays.copyOf(ref, 333), m.out());
                assertArrayEquals(Arrays.copyOfRange(ref, 333, 349), m.tag());
            }
            assertEquals(0, shim.count(StatCounter.FALLBACKS));
        }
    }

    static byte[] bytes(Random rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }
}
