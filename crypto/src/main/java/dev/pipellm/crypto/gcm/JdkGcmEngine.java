package dev.pipellm.crypto.gcm;

import dev.pipellm.crypto.key.GcmKey;

import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.SecretKeySpec;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.security.GeneralSecurityException;
import java.security.InvalidAlgorithmParameterException;
import java.security.Provider;
import java.security.Security;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * AES-GCM on the JDK's SunJCE provider, fed so that its AVX-512/VAES intrinsic runs for every message size.
 *
 * <p><b>Why it is fed this way</b> (java-stack.md section 1):
 * <ul>
 *   <li>SunJCE's combined intrinsic ({@code GaloisCounterMode.implGCMCrypt0}) is used only from a C2-compiled
 *       caller, {@code implGCMCrypt}, which runs once per {@code update}/{@code doFinal} call. A 1 MiB or larger
 *       message is one call, so such messages alone never trigger compilation and run at ~0.09 GB/s. We feed
 *       every message through {@code update} in {@value #CHUNK_BYTES}-byte chunks (SunJCE's TRIGGERLEN), so
 *       each chunk counts as one invocation, and {@link #warmUp} drives enough of them at start-up to get the
 *       caller compiled before the first real message.</li>
 *   <li>Direct or segment-backed {@code ByteBuffer}s take a slower copy path (~5.3 GB/s). {@code MemorySegment}
 *       input is instead copied chunk by chunk into a per-thread heap array, encrypted in place (SunJCE needs no
 *       extra buffer for exact in-place encryption) and copied out: one L2-resident chunk, two memcpys,
 *       ~12-14 GB/s on this VM.</li>
 *   <li>{@code update} is only ever given whole 16-byte blocks, so SunJCE never buffers a partial block; the
 *       last partial block and the tag go through a 48-byte per-thread tail array because SunJCE writes the tag
 *       right after the ciphertext, and our callers keep tags apart.</li>
 *   <li>Decryption must see the whole ciphertext and tag in one {@code doFinal} (SunJCE buffers anything given to
 *       {@code update} in a freshly allocated stream until the tag is checked). Ciphertext with a detached tag is
 *       therefore staged once into a per-thread array that grows to the largest message seen.</li>
 *   <li>One {@link Cipher} per thread, re-initialised per message (78 ns) rather than created (1.2 us).</li>
 * </ul>
 *
 * <p><b>Allocation.</b> Our code allocates nothing per message once a thread's state exists and its staging
 * arrays have reached the largest message size. SunJCE itself allocates about 800 bytes in every
 * {@code Cipher.init} (its GCMEncrypt/GCTR/GHASH objects and key/IV clones; see GaloisCounterMode.init and
 * initEngine); no public API avoids that, so the engine's per-message allocation equals SunJCE's own and does
 * not grow with message size. We do avoid the GCMParameterSpec per message by reusing a mutable subclass
 * ({@link ReusableSpecs}).
 *
 * <p><b>IV reuse.</b> SunJCE refuses to re-init a cipher for encryption with the (key, IV) of its previous
 * encryption. The engine's contract allows that (see {@link GcmEngine}), so in that case it first re-arms the
 * cipher with a scratch IV; the check costs one 12-byte compare per message.
 *
 * <p>Threads: per-thread state lives in a {@link ThreadLocal}; all states are also registered so that
 * {@link #close()} can scrub them once no thread uses the engine.
 */
public final class JdkGcmEngine implements GcmEngine {

    /** Bytes per update() call: SunJCE's TRIGGERLEN, the smallest size its combined GCM path handles whole. */
    public static final int CHUNK_BYTES = 64 * 1024;
    /** Default per-thread staging for decryption and tags: the driver's largest GCM message (1 MiB). */
    public static final int DEFAULT_STAGING_BYTES = 1 << 20;
    /** SunJCE's own maximum: it handles lengths as int and adds a tag. */
    private static final int MAX_MESSAGE_BYTES = Integer.MAX_VALUE - 64;

    private static final String NAME = "jdk-sunjce";

    private final Provider provider;
    private final int initialStagingBytes;
    private final ThreadLocal<ThreadState> states;
    private final Set<ThreadState> allStates = ConcurrentHashMap.newKeySet();
    private final LongAdder failures = new LongAdder();
    private volatile boolean closed;

    /** An engine whose per-thread decrypt staging starts at {@link #DEFAULT_STAGING_BYTES}. */
    public JdkGcmEngine() {
        this(DEFAULT_STAGING_BYTES);
    }

    /**
     * @param initialStagingBytes initial per-thread staging capacity for decryption; it grows (one allocation)
     *                            when a larger message arrives, so set it to the largest message expected
     */
    public JdkGcmEngine(int initialStagingBytes) {
        if (initialStagingBytes < 0 || initialStagingBytes > MAX_MESSAGE_BYTES) {
            throw new IllegalArgumentException("initialStagingBytes out of range: " + initialStagingBytes);
        }
        Provider p = Security.getProvider("SunJCE");
        if (p == null) {
            throw new IllegalStateException("SunJCE provider is not installed");
        }
        this.provider = p;
        this.initialStagingBytes = initialStagingBytes;
        this.states = ThreadLocal.withInitial(this::newState);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public long failureCount() {
        return failures.sum();
    }

    private ThreadState newState() {
        try {
            ThreadState s = new ThreadState(Cipher.getInstance("AES/GCM/NoPadding", provider), initialStagingBytes);
            allStates.add(s);
            return s;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SunJCE has no AES/GCM/NoPadding", e);
        }
    }

    // ------------------------------------------------------------------------------------------ heap arrays

    @Override
    public int encrypt(GcmKey key, byte[] iv, byte[] aad, byte[] in, int inOffset, int length,
                       byte[] out, int outOffset, byte[] tag, int tagOffset) {
        int check = checkArrays(iv, in, inOffset, length, out, outOffset, tag, tagOffset);
        if (check != OK) {
            return check;
        }
        if (closed) {
            return ENGINE_CLOSED;
        }
        final ThreadState s = states.get();
        final Cipher cipher = s.cipher;
        try {
            int status = s.initEncrypt(key, iv, aad);
            if (status != OK) {
                return status;
            }
            final int bulk = length & ~15;
            for (int done = 0; done < bulk; ) {
                int n = Math.min(CHUNK_BYTES, bulk - done);
                cipher.update(in, inOffset + done, n, out, outOffset + done);
                done += n;
            }
            final int rest = length - bulk;
            final byte[] tail = s.tail;
            cipher.doFinal(in, inOffset + bulk, rest, tail, 0);
            System.arraycopy(tail, 0, out, outOffset + bulk, rest);
            System.arraycopy(tail, rest, tag, tagOffset, TAG_BYTES);
            return OK;
        } catch (GeneralSecurityException | RuntimeException e) {
            return fail(s, key);
        }
    }

    @Override
    public int decrypt(GcmKey key, byte[] iv, byte[] aad, byte[] in, int inOffset, int length,
                       byte[] out, int outOffset, byte[] tag, int tagOffset) {
        int check = checkArrays(iv, in, inOffset, length, out, outOffset, tag, tagOffset);
        if (check != OK) {
            return check;
        }
        if (closed) {
            return ENGINE_CLOSED;
        }
        final ThreadState s = states.get();
        try {
            int status = s.initDecrypt(key, iv, aad);
            if (status != OK) {
                return status;
            }
            if (tag == in && tagOffset == inOffset + length) {
                // Tag already follows the ciphertext: SunJCE can take it as is.
                s.cipher.doFinal(in, inOffset, length + TAG_BYTES, out, outOffset);
            } else {
                byte[] staged = s.stagingIn(length + TAG_BYTES);
                System.arraycopy(in, inOffset, staged, 0, length);
                System.arraycopy(tag, tagOffset, staged, length, TAG_BYTES);
                s.cipher.doFinal(staged, 0, length + TAG_BYTES, out, outOffset);
            }
            return OK;
        } catch (AEADBadTagException badTag) {
            // SunJCE has already zero-filled the output (it keeps the input when decrypting in place).
            Arrays.fill(out, outOffset, outOffset + length, (byte) 0);
            return TAG_MISMATCH;
        } catch (GeneralSecurityException | RuntimeException e) {
            return fail(s, key);
        }
    }

    // ------------------------------------------------------------------------------------------ segments

    @Override
    public int encrypt(GcmKey key, byte[] iv, byte[] aad, MemorySegment in, MemorySegment out, MemorySegment tag) {
        int check = checkSegments(iv, in, out, tag);
        if (check != OK) {
            return check;
        }
        if (closed) {
            return ENGINE_CLOSED;
        }
        final ThreadState s = states.get();
        final Cipher cipher = s.cipher;
        try {
            int status = s.initEncrypt(key, iv, aad);
            if (status != OK) {
                return status;
            }
            final int length = (int) in.byteSize();
            final int bulk = length & ~15;
            final byte[] chunk = s.chunk;
            for (int done = 0; done < bulk; ) {
                int n = Math.min(CHUNK_BYTES, bulk - done);
                MemorySegment.copy(in, ValueLayout.JAVA_BYTE, done, chunk, 0, n);
                cipher.update(chunk, 0, n, chunk, 0);
                MemorySegment.copy(chunk, 0, out, ValueLayout.JAVA_BYTE, done, n);
                done += n;
            }
            final int rest = length - bulk;
            MemorySegment.copy(in, ValueLayout.JAVA_BYTE, bulk, chunk, 0, rest);
            final byte[] tail = s.tail;
            cipher.doFinal(chunk, 0, rest, tail, 0);
            MemorySegment.copy(tail, 0, out, ValueLayout.JAVA_BYTE, bulk, rest);
            MemorySegment.copy(tail, rest, tag, ValueLayout.JAVA_BYTE, 0, TAG_BYTES);
            return OK;
        } catch (GeneralSecurityException | RuntimeException e) {
            return fail(s, key);
        }
    }

    @Override
    public int decrypt(GcmKey key, byte[] iv, byte[] aad, MemorySegment in, MemorySegment out, MemorySegment tag) {
        int check = checkSegments(iv, in, out, tag);
        if (check != OK) {
            return check;
        }
        if (closed) {
            return ENGINE_CLOSED;
        }
        final ThreadState s = states.get();
        final int length = (int) in.byteSize();
        try {
            int status = s.initDecrypt(key, iv, aad);
            if (status != OK) {
                return status;
            }
            byte[] staged = s.stagingIn(length + TAG_BYTES);
            byte[] plain = s.stagingOut(length);
            MemorySegment.copy(in, ValueLayout.JAVA_BYTE, 0, staged, 0, length);
            MemorySegment.copy(tag, ValueLayout.JAVA_BYTE, 0, staged, length, TAG_BYTES);
            s.cipher.doFinal(staged, 0, length + TAG_BYTES, plain, 0);
            MemorySegment.copy(plain, 0, out, ValueLayout.JAVA_BYTE, 0, length);
            return OK;
        } catch (AEADBadTagException badTag) {
            out.asSlice(0, length).fill((byte) 0);
            return TAG_MISMATCH;
        } catch (GeneralSecurityException | RuntimeException e) {
            return fail(s, key);
        }
    }

    // ------------------------------------------------------------------------------------------ warm-up

    /**
     * Drives 64 KiB encryptions and decryptions on the calling thread (heap and segment paths) until SunJCE's
     * GCM runs at intrinsic speed or the budget is spent, so the first real 1 MiB+ message is not 100x slow.
     * Compilation is JVM-wide, so one thread's warm-up serves all threads.
     *
     * @param budgetNanos upper bound on the time spent
     * @return what happened; {@link WarmUpReport#reachedFastPath()} is false if the budget ran out first
     */
    public WarmUpReport warmUp(long budgetNanos) {
        final int size = CHUNK_BYTES;
        final long start = System.nanoTime();
        byte[] keyBytes = new byte[32];
        for (int i = 0; i < keyBytes.length; i++) {
            keyBytes[i] = (byte) (i * 37 + 11);
        }
        byte[] plain = new byte[size];
        byte[] ct = new byte[size];
        byte[] back = new byte[size];
        byte[] tag = new byte[TAG_BYTES];
        byte[] iv = new byte[IV_BYTES];
        long messages = 0;
        int fastInARow = 0;
        double lastGbps = 0;
        try (GcmKey key = GcmKey.copyOf(keyBytes);
             java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment segIn = arena.allocate(size);
            MemorySegment segOut = arena.allocate(size);
            MemorySegment segTag = arena.allocate(TAG_BYTES);
            while (System.nanoTime() - start < budgetNanos) {
                long t0 = System.nanoTime();
                for (int r = 0; r < 16; r++) {
                    bump(iv);
                    if (encrypt(key, iv, null, plain, 0, size, ct, 0, tag, 0) != OK
                            || decrypt(key, iv, null, ct, 0, size, back, 0, tag, 0) != OK) {
                        throw new IllegalStateException("warm-up round trip failed");
                    }
                    bump(iv);
                    if (encrypt(key, iv, null, segIn, segOut, segTag) != OK
                            || decrypt(key, iv, null, segOut, segIn, segTag) != OK) {
                        throw new IllegalStateException("warm-up segment round trip failed");
                    }
                    messages += 4;
                }
                long elapsed = System.nanoTime() - t0;
                lastGbps = (64.0 * size) / elapsed;
                // 3 GB/s for mixed encrypt/decrypt/staging is far above the ~0.1 GB/s interpreted path.
                fastInARow = lastGbps > 3.0 ? fastInARow + 1 : 0;
                if (fastInARow >= 8) {
                    return new WarmUpReport(messages, System.nanoTime() - start, lastGbps, true);
                }
            }
        }
        return new WarmUpReport(messages, System.nanoTime() - start, lastGbps, false);
    }

    private static void bump(byte[] iv) {
        for (int i = 0; i < iv.length; i++) {
            if (++iv[i] != 0) {
                return;
            }
        }
    }

    /** Outcome of {@link #warmUp}: messages run, time taken, last measured mixed throughput (GB/s). */
    public record WarmUpReport(long messages, long nanos, double lastGbps, boolean reachedFastPath) {
    }

    // ------------------------------------------------------------------------------------------ close

    @Override
    public void close() {
        closed = true;
        byte[] zeroKey = new byte[32];
        for (ThreadState s : allStates) {
            s.scrub(zeroKey);
        }
        allStates.clear();
    }

    // ------------------------------------------------------------------------------------------ internals

    private int fail(ThreadState s, GcmKey key) {
        s.forget();
        if (key.isDestroyed()) {
            return KEY_DESTROYED;
        }
        failures.increment();
        return ENGINE_FAILURE;
    }

    static int checkArrays(byte[] iv, byte[] in, int inOffset, int length, byte[] out, int outOffset,
                           byte[] tag, int tagOffset) {
        if (iv.length != IV_BYTES) {
            return UNSUPPORTED_IV_LENGTH;
        }
        if (length < 0 || length > MAX_MESSAGE_BYTES
                || inOffset < 0 || inOffset > in.length - length
                || outOffset < 0 || outOffset > out.length - length
                || tagOffset < 0 || tagOffset > tag.length - TAG_BYTES) {
            return INVALID_ARGUMENT;
        }
        if (in == out && inOffset != outOffset && Math.abs(inOffset - outOffset) < length) {
            return INVALID_ARGUMENT;
        }
        return OK;
    }

    static int checkSegments(byte[] iv, MemorySegment in, MemorySegment out, MemorySegment tag) {
        if (iv.length != IV_BYTES) {
            return UNSUPPORTED_IV_LENGTH;
        }
        long length = in.byteSize();
        if (length > MAX_MESSAGE_BYTES || out.byteSize() < length || tag.byteSize() < TAG_BYTES) {
            return INVALID_ARGUMENT;
        }
        if (in.isNative() && out.isNative()) {
            long delta = in.address() - out.address();
            if (delta != 0 && Math.abs(delta) < length) {
                return INVALID_ARGUMENT;
            }
        }
        return OK;
    }

    /** One thread's cipher and buffers. Only the owning thread touches it, except close() once quiescent. */
    private static final class ThreadState {
        final Cipher cipher;
        final ReusableSpecs.Gcm spec = new ReusableSpecs.Gcm();
        final ReusableSpecs.Gcm scratchSpec = new ReusableSpecs.Gcm();
        final byte[] chunk = new byte[CHUNK_BYTES];
        /** Last partial block plus tag. */
        final byte[] tail = new byte[16 + TAG_BYTES + 16];
        final StagingBuffers staging;
        /** Key id and IV of the last successful encrypt init, for SunJCE's IV-reuse guard. */
        long lastEncryptKeyId;
        final byte[] lastEncryptIv = new byte[IV_BYTES];

        ThreadState(Cipher cipher, int stagingBytes) {
            this.cipher = cipher;
            this.staging = new StagingBuffers(stagingBytes + TAG_BYTES, stagingBytes);
        }

        int initEncrypt(GcmKey key, byte[] iv, byte[] aad) throws GeneralSecurityException {
            if (key.isDestroyed()) {
                return KEY_DESTROYED;
            }
            final long keyId = key.id();
            if (keyId == lastEncryptKeyId && Arrays.equals(iv, lastEncryptIv)) {
                // Same (key, IV) as this cipher's previous encryption: re-arm with a different IV first.
                System.arraycopy(iv, 0, scratchSpec.iv, 0, IV_BYTES);
                scratchSpec.iv[0] ^= (byte) 0xFF;
                cipher.init(Cipher.ENCRYPT_MODE, key.asJdkKey(), scratchSpec);
            }
            System.arraycopy(iv, 0, spec.iv, 0, IV_BYTES);
            try {
                cipher.init(Cipher.ENCRYPT_MODE, key.asJdkKey(), spec);
            } catch (InvalidAlgorithmParameterException sameKeyBytesAndIv) {
                // A different GcmKey with the same bytes (SunJCE compares bytes): rare, so an exception is fine.
                System.arraycopy(iv, 0, scratchSpec.iv, 0, IV_BYTES);
                scratchSpec.iv[0] ^= (byte) 0xFF;
                cipher.init(Cipher.ENCRYPT_MODE, key.asJdkKey(), scratchSpec);
                cipher.init(Cipher.ENCRYPT_MODE, key.asJdkKey(), spec);
            }
            lastEncryptKeyId = keyId;
            System.arraycopy(iv, 0, lastEncryptIv, 0, IV_BYTES);
            if (aad != null && aad.length > 0) {
                cipher.updateAAD(aad);
            }
            return OK;
        }

        int initDecrypt(GcmKey key, byte[] iv, byte[] aad) throws GeneralSecurityException {
            if (key.isDestroyed()) {
                return KEY_DESTROYED;
            }
            System.arraycopy(iv, 0, spec.iv, 0, IV_BYTES);
            cipher.init(Cipher.DECRYPT_MODE, key.asJdkKey(), spec);
            if (aad != null && aad.length > 0) {
                cipher.updateAAD(aad);
            }
            return OK;
        }

        byte[] stagingIn(int bytes) {
            return staging.in(bytes);
        }

        byte[] stagingOut(int bytes) {
            return staging.out(bytes);
        }

        /** After a failure the cipher's state is unknown: forget the reuse-guard memory. */
        void forget() {
            lastEncryptKeyId = 0;
        }

        /** Re-keys the cipher with a zero key (SunJCE then zeroes its copies of the old one) and wipes buffers. */
        void scrub(byte[] zeroKey) {
            try {
                Arrays.fill(spec.iv, (byte) 0x5A);
                cipher.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(zeroKey, "AES"), spec);
            } catch (GeneralSecurityException | RuntimeException ignored) {
                // Best effort: the cipher becomes garbage with the engine either way.
            }
            Arrays.fill(chunk, (byte) 0);
            Arrays.fill(tail, (byte) 0);
            staging.wipe();
        }
    }
}
