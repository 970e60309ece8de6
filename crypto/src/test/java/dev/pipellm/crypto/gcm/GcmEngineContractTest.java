package dev.pipellm.crypto.gcm;

import dev.pipellm.crypto.key.GcmKey;
import dev.pipellm.crypto.testsupport.Engines;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class GcmEngineContractTest {

    @Test
    void shouldZeroOutputWhenTagDoesNotVerify() {
        for (GcmEngine engine : Engines.all()) {
            try (GcmKey key = GcmKey.copyOf(new byte[32])) {
                byte[] msg = new byte[1000];
                Arrays.fill(msg, (byte) 7);
                byte[] ct = new byte[1000];
                byte[] tag = new byte[16];
                assertEquals(GcmEngine.OK, engine.encrypt(key, new byte[12], null, msg, 0, 1000, ct, 0, tag, 0));
                ct[999] ^= 1;
                byte[] out = new byte[1000];
                Arrays.fill(out, (byte) 9);
                assertEquals(GcmEngine.TAG_MISMATCH, engine.decrypt(key, new byte[12], null, ct, 0, 1000, out, 0, tag, 0));
                assertArrayEquals(new byte[1000], out, engine.name());
            }
        }
    }

    @Test
    void shouldReturnSentinelsWhenArgumentsAreInvalid() {
        for (GcmEngine engine : Engines.all()) {
            try (GcmKey key = GcmKey.copyOf(new byte[32])) {
                byte[] b = new byte[64];
                assertEquals(GcmEngine.UNSUPPORTED_IV_LENGTH, engine.encrypt(key, new byte[8], null, b, 0, 8, b, 32, b, 40));
                assertEquals(GcmEngine.INVALID_ARGUMENT, engine.encrypt(key, new byte[12], null, b, 60, 8, b, 0, b, 40));
                assertEquals(GcmEngine.INVALID_ARGUMENT, engine.encrypt(key, new byte[12], null, b, 0, 16, b, 8, b, 40));
                assertEquals(GcmEngine.INVALID_ARGUMENT, engine.encrypt(key, new byte[12], null, b, 0, -1, b, 8, b, 40));
                key.close();
                assertEquals(GcmEngine.KEY_DESTROYED, engine.encrypt(key, new byte[12], null, b, 0, 16, b, 16, b, 40));
            }
        }
    }

    @Test
    void shouldEncryptAgainWhenSameKeyAndIvAreReused() {
        for (GcmEngine engine : Engines.all()) {
            try (GcmKey key = GcmKey.copyOf(new byte[32])) {
                byte[] a = new byte[100];
                byte[] t1 = new byte[16];
                byte[] t2 = new byte[16];
                byte[] c1 = new byte[100];
                byte[] c2 = new byte[100];
                assertEquals(GcmEngine.OK, engine.encrypt(key, new byte[12], null, a, 0, 100, c1, 0, t1, 0));
                assertEquals(GcmEngine.OK, engine.encrypt(key, new byte[12], null, a, 0, 100, c2, 0, t2, 0));
                assertArrayEquals(c1, c2);
                assertArrayEquals(t1, t2);
                assertEquals(0, engine.failureCount(), engine.name());
            }
        }
    }

    @Test
    void shouldProduceSameBytesWhenManyThreadsEncryptAtOnce() throws Exception {
        byte[] keyBytes = new byte[32];
        new SplittableRandom(3).nextBytes(keyBytes);
        int messages = 48;
        byte[][] msgs = new byte[messages][];
        byte[][] ivs = new byte[messages][];
        byte[][] expected = new byte[messages][];
        SplittableRandom random = new SplittableRandom(4);
        try (GcmKey key = GcmKey.copyOf(keyBytes)) {
            for (int i = 0; i < messages; i++) {
                msgs[i] = new byte[random.nextInt(300_000)];
                random.nextBytes(msgs[i]);
                ivs[i] = new byte[12];
                random.nextBytes(ivs[i]);
                expected[i] = new byte[msgs[i].length + 16];
                assertEquals(GcmEngine.OK, Engines.jdk().encrypt(key, ivs[i], null, msgs[i], 0, msgs[i].length,
                        expected[i], 0, expected[i], msgs[i].length));
            }
            ExecutorService pool = Executors.newFixedThreadPool(6);
            try {
                for (GcmEngine engine : Engines.all()) {
                    List<Future<?>> futures = new ArrayList<>();
                    for (int thread = 0; thread < 6; thread++) {
                        int offset = thread;
                        futures.add(pool.submit(() -> {
                            for (int round = 0; round < 4; round++) {
                                for (int j = 0; j < messages; j++) {
                                    int i = (j + offset * 7) % messages;
                                    byte[] out = new byte[msgs[i].length + 16];
                                    assertEquals(GcmEngine.OK, engine.encrypt(key, ivs[i], null, msgs[i], 0,
                                            msgs[i].length, out, 0, out, msgs[i].length));
                                    assertArrayEquals(expected[i], out, engine.name());
                                    byte[] back = new byte[msgs[i].length];
                                    assertEquals(GcmEngine.OK, engine.decrypt(key, ivs[i], null, out, 0,
                                            msgs[i].length, back, 0, out, msgs[i].length));
                                    assertArrayEquals(msgs[i], back, engine.name());
                                }
                            }
                            return null;
                        }));
                    }
                    for (Future<?> f : futures) {
                        f.get();
                    }
                    assertEquals(0, engine.failureCount(), engine.name());
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }
}
