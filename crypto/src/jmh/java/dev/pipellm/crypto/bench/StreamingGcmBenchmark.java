package dev.pipellm.crypto.bench;

import dev.pipellm.crypto.gcm.StreamingGcm;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.util.concurrent.TimeUnit;

/**
 * OpenSSL-style streaming encryption, one message per op (begin, updates of {@code update} bytes, tag), fresh IV
 * per message: {@link StreamingGcm} (one SunJCE GCM pass) against the two-pass approach it replaces in the
 * agent (a CTR cipher for the output plus a GCM cipher for the tag), and StreamingGcm's decryption.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class StreamingGcmBenchmark {

    @Param({"1048576"})
    public int size;
    /** Bytes per update call (the agent stages 64 KiB). */
    @Param({"65536", "65539"})
    public int update;

    private byte[] in;
    private byte[] out;
    private final byte[] scratch = new byte[65536 + 32];
    private final byte[] tag = new byte[16];
    private final byte[] iv = new byte[12];
    private final SecretKeySpec key = new SecretKeySpec(new byte[32], "AES");
    private StreamingGcm streaming;
    private TwoPass twoPass;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        in = new byte[size];
        out = new byte[size];
        streaming = new StreamingGcm();
        twoPass = new TwoPass();
        // SunJCE's GCM needs ~5,000 update calls before C2 uses its intrinsic: get there with small messages
        // (otherwise the 65,539-byte case spends its first ~4 s at ~0.035 GB/s; see StreamingGcm.warmUp).
        StreamingGcm.warmUp(3_000_000_000L);
    }

    @Benchmark
    public byte[] streamingEncrypt() {
        bump(iv);
        streaming.begin(key, iv, true);
        for (int p = 0; p < size; p += update) {
            streaming.update(in, p, Math.min(update, size - p), out, p);
        }
        streaming.finishEncrypt(tag);
        return tag;
    }

    @Benchmark
    public byte[] twoPassEncrypt() throws Exception {
        bump(iv);
        twoPass.begin(key, iv);
        for (int p = 0; p < size; p += update) {
            int n = Math.min(update, size - p);
            twoPass.update(in, p, n, out, p, scratch);
        }
        twoPass.finish(scratch, tag);
        return tag;
    }

    @Benchmark
    public boolean streamingDecrypt() {
        bump(iv);
        streaming.begin(key, iv, false);
        for (int p = 0; p < size; p += update) {
            streaming.update(in, p, Math.min(update, size - p), out, p);
        }
        return streaming.finishDecrypt(tag, 16);
    }

    private static void bump(byte[] iv) {
        for (int i = 0; i < 12 && ++iv[i] == 0; i++) {
            // carry
        }
    }

    /** The agent's former GcmStream, reduced to encryption: CTR from IV || 00000002 for output, GCM for the tag. */
    static final class TwoPass {
        private final Cipher ctr = Cipher.getInstance("AES/CTR/NoPadding", "SunJCE");
        private final Cipher tagger = Cipher.getInstance("AES/GCM/NoPadding", "SunJCE");
        private final byte[] ctrIv = new byte[16];

        TwoPass() throws Exception {
        }

        void begin(SecretKeySpec key, byte[] iv) throws Exception {
            System.arraycopy(iv, 0, ctrIv, 0, 12);
            ctrIv[15] = 2;
            ctr.init(Cipher.ENCRYPT_MODE, key, new IvParameterSpec(ctrIv));
            tagger.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(128, iv));
        }

        void update(byte[] src, int srcOff, int n, byte[] dst, int dstOff, byte[] scratch) throws Exception {
            for (int done = 0; done < n; ) {
                int k = Math.min(65536, n - done);
                ctr.update(src, srcOff + done, k, dst, dstOff + done);
                tagger.update(src, srcOff + done, k, scratch, 0);
                done += k;
            }
        }

        void finish(byte[] scratch, byte[] tag) throws Exception {
            int len = tagger.doFinal(scratch, 0);
            System.arraycopy(scratch, len - 16, tag, 0, 16);
        }
    }
}
