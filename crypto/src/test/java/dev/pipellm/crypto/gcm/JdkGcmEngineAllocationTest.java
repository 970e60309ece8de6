package dev.pipellm.crypto.gcm;

import dev.pipellm.crypto.key.GcmKey;
import org.junit.jupiter.api.Test;

import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The engine's own code allocates nothing per message. SunJCE's {@code Cipher.init} allocates ~800 bytes per
 * message inside the JDK (GCMEncrypt/GCTR/GHASH, key and IV clones) and no public API avoids that, so a literal
 * zero is impossible with SunJCE; what we can and do enforce: the engine allocates no more per message than a
 * bare {@code init + doFinal} on the same thread, and its allocation does not grow with size or path (heap vs
 * off-heap staging), i.e. nothing of ours is allocated per message or per chunk.
 */
class JdkGcmEngineAllocationTest {

    private static final int MESSAGES = 20_000;
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    @Test
    void shouldAllocateNoMoreThanBareSunJceWhenEncryptingWarmedUpHeapAndSegmentMessages() throws Exception {
        JdkGcmEngine engine = new JdkGcmEngine();
        engine.warmUp(2_000_000_000L);
        byte[] keyBytes = new byte[32];
        keyBytes[0] = 1;
        try (GcmKey key = GcmKey.copyOf(keyBytes); Arena arena = Arena.ofConfined()) {
            int[] sizes = {4096, 65_536, 1 << 20}; // whole blocks: SunJCE's own tail handling is size-dependent
            double[] perMessage = new double[sizes.length * 2];
            for (int s = 0; s < sizes.length; s++) {
                int size = sizes[s];
                byte[] in = new byte[size];
                byte[] out = new byte[size];
                byte[] tag = new byte[16];
                byte[] iv = new byte[12];
                MemorySegment segIn = arena.allocate(size);
                MemorySegment segOut = arena.allocate(size);
                MemorySegment segTag = arena.allocate(16);
                int n = size >= (1 << 20) ? MESSAGES / 20 : MESSAGES;
                for (int round = 0; round < 2; round++) { // round 0 warms this size up
                    long before = THREADS.getCurrentThreadAllocatedBytes();
                    for (int i = 0; i < n; i++) {
                        next(iv);
                        assertEquals(GcmEngine.OK, engine.encrypt(key, iv, null, in, 0, size, out, 0, tag, 0));
                    }
                    long heapBytes = THREADS.getCurrentThreadAllocatedBytes() - before;
                    before = THREADS.getCurrentThreadAllocatedBytes();
                    for (int i = 0; i < n; i++) {
                        next(iv);
                        assertEquals(GcmEngine.OK, engine.encrypt(key, iv, null, segIn, segOut, segTag));
                    }
                    long segBytes = THREADS.getCurrentThreadAllocatedBytes() - before;
                    perMessage[2 * s] = (double) heapBytes / n;
                    perMessage[2 * s + 1] = (double) segBytes / n;
                }
            }
            double bare = bareSunJceBytesPerMessage(keyBytes);
            double min = Double.MAX_VALUE;
            double max = 0;
            for (double bytes : perMessage) {
                assertTrue(bytes <= bare + 64, "engine allocates " + bytes + " B/message, bare SunJCE " + bare);
                min = Math.min(min, bytes);
                max = Math.max(max, bytes);
            }
            // 1 MiB is 16 chunks: anything allocated per chunk (a ByteBuffer, a staging array) would add >= 256 B.
            assertTrue(max - min <= 64, "allocation depends on size/path: " + java.util.Arrays.toString(perMessage));
            System.out.printf("JdkGcmEngine B/message (heap,segment x 4K,64K,1M): %s; bare SunJCE: %.0f%n",
                    java.util.Arrays.toString(perMessage), bare);
        }
        engine.close();
    }

    private static double bareSunJceBytesPerMessage(byte[] keyBytes) throws Exception {
        Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding", "SunJCE");
        SecretKeySpec key = new SecretKeySpec(keyBytes, "AES");
        byte[] in = new byte[4096];
        byte[] out = new byte[4096 + 16];
        byte[] iv = new byte[12];
        iv[11] = 0x55;
        double result = 0;
        for (int round = 0; round < 2; round++) {
            long before = THREADS.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < MESSAGES; i++) {
                next(iv);
                // The same call pattern as the engine: init, whole-block update, empty doFinal for the tag.
                cipher.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(128, iv));
                cipher.update(in, 0, in.length, out, 0);
                cipher.doFinal(in, 0, 0, out, in.length);
            }
            result = (double) (THREADS.getCurrentThreadAllocatedBytes() - before) / MESSAGES;
        }
        return result;
    }

    private static void next(byte[] iv) {
        for (int i = 0; i < 12 && ++iv[i] == 0; i++) {
            // carry
        }
    }
}
