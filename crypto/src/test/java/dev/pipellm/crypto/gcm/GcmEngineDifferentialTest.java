package dev.pipellm.crypto.gcm;

import dev.pipellm.crypto.key.GcmKey;
import dev.pipellm.crypto.testsupport.BcJavaReference;
import dev.pipellm.crypto.testsupport.Engines;
import dev.pipellm.crypto.testsupport.OpenSslGcm;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Byte-for-byte: every engine, heap and off-heap, against OpenSSL 3 (via FFM) and pure-Java BC. */
class GcmEngineDifferentialTest {

    private static final int MAX = 4 << 20;
    /** Pure-Java BC runs at ~0.15 GB/s: compare it on sizes up to this bound to keep the suite short. */
    private static final int BC_JAVA_MAX = 256 << 10;

    @Test
    void shouldEqualOpenSslForRandomMessagesWhenEncryptingHeapAndOffHeap() {
        SplittableRandom random = new SplittableRandom(20260501L);
        List<Integer> sizes = new ArrayList<>(List.of(0, 1, 15, 16, 17, 511, 512, 513, 4096, 65535, 65536, 65537,
                (1 << 20) - 1, 1 << 20, (1 << 20) + 1, MAX));
        for (int i = 0; i < 14; i++) {
            sizes.add(random.nextInt(i < 8 ? 200_000 : MAX + 1));
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = arena.allocate(MAX + 1, 64);
            MemorySegment out = arena.allocate(MAX + 8, 64);
            MemorySegment tag = arena.allocate(16);
            for (int size : sizes) {
                byte[] keyBytes = new byte[32];
                byte[] iv = new byte[12];
                byte[] msg = new byte[size];
                random.nextBytes(keyBytes);
                random.nextBytes(iv);
                random.nextBytes(msg);
                // Unaligned off-heap input and output, as a host process's buffers may be.
                MemorySegment segIn = in.asSlice(1, size);
                MemorySegment segOut = out.asSlice(size % 7, size);
                MemorySegment.copy(msg, 0, segIn, ValueLayout.JAVA_BYTE, 0, size);
                byte[] expected = OpenSslGcm.encrypt(keyBytes, iv, null, segIn);
                if (size <= BC_JAVA_MAX) {
                    assertArrayEquals(expected, BcJavaReference.encrypt(keyBytes, iv, null, msg), "BC java " + size);
                }
                try (GcmKey key = GcmKey.copyOf(keyBytes)) {
                    for (GcmEngine engine : Engines.all()) {
                        String what = engine.name() + " " + size + " bytes";
                        byte[] ct = new byte[size + 3];
                        byte[] t = new byte[16];
                        assertEquals(GcmEngine.OK, engine.encrypt(key, iv, null, msg, 0, size, ct, 3, t, 0), what);
                        assertArrayEquals(expected, concat(Arrays.copyOfRange(ct, 3, size + 3), t), what + " heap");

                        assertEquals(GcmEngine.OK, engine.encrypt(key, iv, null, segIn, segOut, tag), what);
                        assertArrayEquals(expected, concat(segOut.toArray(ValueLayout.JAVA_BYTE),
                                tag.toArray(ValueLayout.JAVA_BYTE)), what + " off-heap");

                        byte[] back = new byte[size];
                        assertEquals(GcmEngine.OK, engine.decrypt(key, iv, null, ct, 3, size, back, 0, t, 0), what);
                        assertArrayEquals(msg, back, what + " heap decrypt");
                        MemorySegment segBack = in.asSlice(0, size);
                        assertEquals(GcmEngine.OK, engine.decrypt(key, iv, null, segOut, segBack, tag), what);
                        assertArrayEquals(msg, segBack.toArray(ValueLayout.JAVA_BYTE), what + " off-heap decrypt");
                        MemorySegment.copy(msg, 0, segIn, ValueLayout.JAVA_BYTE, 0, size);
                    }
                }
            }
        }
    }

    @Test
    void shouldEqualOpenSslWhenAadIsPresent() {
        SplittableRandom random = new SplittableRandom(7);
        try (Arena arena = Arena.ofConfined()) {
            for (int size : new int[]{0, 33, 70_000}) {
                byte[] keyBytes = new byte[32];
                byte[] iv = new byte[12];
                byte[] aad = new byte[1 + size % 40];
                byte[] msg = new byte[size];
                random.nextBytes(keyBytes);
                random.nextBytes(iv);
                random.nextBytes(aad);
                random.nextBytes(msg);
                MemorySegment seg = arena.allocateFrom(ValueLayout.JAVA_BYTE, msg);
                byte[] expected = OpenSslGcm.encrypt(keyBytes, iv, aad, seg);
                try (GcmKey key = GcmKey.copyOf(keyBytes)) {
                    for (GcmEngine engine : Engines.all()) {
                        byte[] ct = new byte[size];
                        byte[] t = new byte[16];
                        assertEquals(GcmEngine.OK, engine.encrypt(key, iv, aad, msg, 0, size, ct, 0, t, 0));
                        assertArrayEquals(expected, concat(ct, t), engine.name());
                    }
                }
            }
        }
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
