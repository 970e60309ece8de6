package dev.pipellm.crypto.gcm;

import org.junit.jupiter.api.Test;

import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.lang.management.ManagementFactory;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link StreamingGcm}'s own code allocates nothing per update and nothing per message: a message costs what
 * SunJCE's {@code Cipher.init}/{@code doFinal} allocate (measured here as a bare SunJCE message), plus what
 * SunJCE's GCM {@code update} may allocate per call when C2 does not scalar-replace its temporaries (0 to ~80
 * bytes, JIT-dependent; see StreamingGcm's javadoc), bounded by the number of SunJCE update calls the instance
 * made. That bound discriminates: 64 KiB in 7-byte updates is 9,363 updates but 16 SunJCE calls, so one
 * 16-byte array of ours per update would exceed it by 150 KB. Style of {@link JdkGcmEngineAllocationTest}.
 */
class StreamingGcmAllocationTest {

    /**
     * Bound on what SunJCE's GCM update allocates per call when C2 does not scalar-replace its temporaries
     * (checkDataLength's varargs int[2], GCTR's ByteBuffer.wrap): seen up to ~82 bytes; 128 leaves headroom.
     */
    private static final int SUNJCE_BYTES_PER_UPDATE_CALL = 128;
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    /** size, update length, in place (1) or not (0), messages per round. */
    private static final int[][] CASES = {
        {4096, 4096, 0, 4000},
        {65_541, 7, 0, 60},
        {(1 << 20) + 1, 1000, 0, 60},
        {1 << 20, 1 << 20, 0, 60},
        {300 * 1024, 4099, 1, 100},
        {65_536, 65_536, 1, 1000},
    };

    @Test
    void shouldAllocateNothingOfItsOwnPerUpdateOrMessageWhateverTheSizeSplitOrPlacement() throws Exception {
        byte[] keyBytes = new byte[32];
        keyBytes[3] = 9;
        SecretKey key = new SecretKeySpec(keyBytes, "AES");
        StreamingGcm gcm = new StreamingGcm();
        byte[] iv = new byte[12];
        byte[] tag = new byte[16];
        double[][] perMessage = new double[2][CASES.length];
        double[][] callsPerMessage = new double[2][CASES.length];
        for (int c = 0; c < CASES.length; c++) {
            int size = CASES[c][0];
            int step = CASES[c][1];
            boolean inPlace = CASES[c][2] == 1;
            int n = CASES[c][3];
            byte[] in = new byte[size];
            byte[] out = inPlace ? in : new byte[size];
            for (int dir = 0; dir < 2; dir++) {
                boolean encrypt = dir == 0;
                for (int round = 0; round < 2; round++) { // round 0 warms this case up
                    long calls = gcm.gcmUpdateCalls();
                    long before = THREADS.getCurrentThreadAllocatedBytes();
                    for (int m = 0; m < n; m++) {
                        next(iv);
                        gcm.begin(key, iv, encrypt);
                        for (int pos = 0; pos < size; pos += step) {
                            int len = Math.min(step, size - pos);
                            gcm.update(in, pos, len, out, pos);
                        }
                        if (encrypt) {
                            gcm.finishEncrypt(tag);
                        } else {
                            gcm.finishDecrypt(tag, 16);
                        }
                    }
                    perMessage[dir][c] = (double) (THREADS.getCurrentThreadAllocatedBytes() - before) / n;
                    callsPerMessage[dir][c] = (double) (gcm.gcmUpdateCalls() - calls) / n;
                }
            }
        }
        double[] bare = bareSunJceBytesPerMessage(keyBytes);
        System.out.printf("StreamingGcm B/message encrypt %s, decrypt %s; SunJCE update calls/message encrypt %s,"
                        + " decrypt %s; bare SunJCE encrypt %.0f, decrypt %.0f%n",
                Arrays.toString(perMessage[0]), Arrays.toString(perMessage[1]),
                Arrays.toString(callsPerMessage[0]), Arrays.toString(callsPerMessage[1]), bare[0], bare[1]);
        for (int dir = 0; dir < 2; dir++) {
            for (int c = 0; c < CASES.length; c++) {
                double bound = bare[dir] + 64 + SUNJCE_BYTES_PER_UPDATE_CALL * callsPerMessage[dir][c];
                assertTrue(perMessage[dir][c] <= bound, (dir == 0 ? "encrypt" : "decrypt") + " case "
                        + Arrays.toString(CASES[c]) + " allocates " + perMessage[dir][c] + " B/message, more than "
                        + bound + " (bare SunJCE " + bare[dir] + " + " + callsPerMessage[dir][c] + " update calls)");
            }
        }
        // The number of SunJCE calls itself: one per 4 KiB of small updates, or per update/64 KiB of large ones.
        assertTrue(callsPerMessage[0][1] <= 17 && callsPerMessage[1][1] <= 17, "7-byte updates: "
                + callsPerMessage[0][1] + " / " + callsPerMessage[1][1] + " SunJCE calls per message");
    }

    /** The SunJCE calls a message needs at least: [0] encrypt (GCM init, update, doFinal), [1] decrypt (+ CTR). */
    private static double[] bareSunJceBytesPerMessage(byte[] keyBytes) throws Exception {
        Cipher gcm = Cipher.getInstance("AES/GCM/NoPadding", "SunJCE");
        Cipher ctr = Cipher.getInstance("AES/CTR/NoPadding", "SunJCE");
        SecretKeySpec key = new SecretKeySpec(keyBytes, "AES");
        byte[] in = new byte[4096];
        byte[] out = new byte[4096 + 16];
        byte[] iv = new byte[12];
        byte[] ctrIv = new byte[16];
        iv[11] = 0x55;
        double[] result = new double[2];
        int n = 4000;
        for (int dir = 0; dir < 2; dir++) {
            for (int round = 0; round < 2; round++) {
                long before = THREADS.getCurrentThreadAllocatedBytes();
                for (int i = 0; i < n; i++) {
                    next(iv);
                    if (dir == 1) {
                        System.arraycopy(iv, 0, ctrIv, 0, 12);
                        ctrIv[15] = 2;
                        ctr.init(Cipher.ENCRYPT_MODE, key, new IvParameterSpec(ctrIv));
                        ctr.update(in, 0, in.length, out, 0);
                    }
                    gcm.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(128, iv));
                    gcm.update(in, 0, in.length, out, 0);
                    gcm.doFinal(in, 0, 0, out, in.length);
                }
                result[dir] = (double) (THREADS.getCurrentThreadAllocatedBytes() - before) / n;
            }
        }
        return result;
    }

    private static void next(byte[] iv) {
        for (int i = 0; i < 12 && ++iv[i] == 0; i++) {
            // carry
        }
    }
}
