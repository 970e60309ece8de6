package dev.pipellm.crypto.gcm;

import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.ShortBufferException;
import javax.crypto.spec.SecretKeySpec;
import java.security.GeneralSecurityException;
import java.security.InvalidAlgorithmParameterException;
import java.security.InvalidKeyException;
import java.util.Arrays;
import java.util.Objects;

/**
 * AES-GCM with OpenSSL EVP's streaming, per-call behaviour, one message at a time: 96-bit IV, 16-byte tag, no
 * AAD. Each {@link #update} writes exactly as many bytes as it is given, which is what
 * {@code EVP_EncryptUpdate}/{@code EVP_DecryptUpdate} write for GCM, for any split of the message into updates;
 * {@link #finishEncrypt} writes only the tag (OpenSSL's final writes no data for GCM) and {@link #finishDecrypt}
 * compares the received tag, after the plaintext has already been handed out, exactly as OpenSSL does.
 *
 * <p><b>Encryption: one AES pass.</b> A SunJCE {@code AES/GCM/NoPadding} cipher in ENCRYPT mode does the work
 * (keystream, GHASH, tag) and writes its ciphertext straight into the caller's output. SunJCE itself would hold
 * back a trailing partial block of each update (and allocate a block array when it completes one), so it is
 * only ever given whole multiples of {@value #PARALLEL_BYTES} bytes (its {@code PARALLEL_LEN}: such input goes
 * entirely through the combined AES-GCM intrinsic; shorter pieces take a path that allocates a
 * {@code ByteBuffer} per call), at most {@value JdkGcmEngine#CHUNK_BYTES} bytes per call (java-stack.md
 * section 1). What an update leaves over, fewer than {@value #PARALLEL_BYTES} bytes, or a run of small updates
 * (up to {@value #STAGE_BYTES} bytes), waits in a staging array until it can be given to SunJCE; its ciphertext
 * is written at once from the CTR keystream of its blocks, {@code E(K, inc32(J0) + blockIndex)} with
 * {@code J0 = IV || 00000001} (the first data block uses {@code IV || 00000002}), computed by a separate
 * {@code AES/ECB/NoPadding} cipher keyed once per key. When SunJCE later encrypts the staged bytes, its output
 * goes to a sink: those bytes were already written, and the sink is compared with them (a mismatch throws), so
 * every byte computed from the keystream is checked against SunJCE's ciphertext, over which SunJCE computes the
 * tag. Extra AES work: the staged bytes, at most 2 x 511 per update for large updates (none when updates are
 * multiples of 512 bytes), all bytes for a message made of updates shorter than 512 bytes.
 *
 * <p><b>Decryption: two AES passes, and why.</b> SunJCE's GCM decryption releases no plaintext before the tag
 * has verified: it buffers the whole ciphertext and decrypts in {@code doFinal}. OpenSSL semantics require the
 * plaintext at update time, and the JDK has no public GHASH. So the plaintext comes from an
 * {@code AES/CTR/NoPadding} cipher started at counter block {@code inc32(J0) = IV || 00000002} (pass one), and
 * the tag from the GCM cipher in ENCRYPT mode fed that recovered plaintext (pass two), staged exactly as for
 * encryption: re-encrypting it yields the received ciphertext again, so the tag it computes is the tag of the
 * received ciphertext. Its ciphertext output goes to a scratch array and is dropped. (The 128-bit CTR increment
 * equals GCM's inc32 for any message below 64 GiB, and SunJCE refuses far smaller messages.) SunJCE's CTR copies
 * its input when it is exactly in place (allocating), so an in-place decryption is staged through the 64 KiB
 * scratch array instead.
 *
 * <p><b>IV-reuse guard.</b> SunJCE refuses an ENCRYPT init with the key bytes and IV of that instance's previous
 * ENCRYPT init. The GCM cipher is initialised for encryption for both directions, so two consecutive messages
 * with the same key and IV (a decryption of what was just encrypted, or a driver repeating an IV) would be
 * refused: in that case it is first re-armed with a scratch IV ({@code IV[0] ^ 0xff}). Nothing encrypted under
 * the scratch IV is ever output. The check is by key object identity plus a 12-byte compare; a different key
 * object with the same bytes is caught from SunJCE's exception (rare).
 *
 * <p><b>Keys.</b> Callers pass the same {@link SecretKey} object for consecutive messages under one key (a
 * {@code SecretKeySpec} or {@code GcmKey.asJdkKey()}); the ECB keystream cipher is keyed again only when the
 * object changes, so a key object must never change its bytes (a stale ECB key would be caught by the sink
 * comparison above). The GCM and CTR ciphers are initialised per message (SunJCE derives the key schedule
 * inside every {@code Cipher.init}; no public API avoids it). {@link #wipe()} drops our key references and
 * re-keys every cipher with an all-zero key so that SunJCE zeroes or drops its copies (best effort: SunJCE
 * offers nothing better).
 *
 * <p><b>Allocation.</b> Our code allocates nothing per update or per message (the 64 KiB scratch array is
 * allocated on the first decryption). SunJCE allocates in every {@code Cipher.init} and {@code doFinal}
 * (several hundred bytes per message, like {@link JdkGcmEngine}) and, inside its GCM {@code update}, small
 * temporaries (a varargs {@code int[2]} in {@code checkDataLength}; before C2 has compiled its caller of the
 * intrinsic, also a {@code ByteBuffer}) that C2 usually but not always scalar-replaces: measured 0 to about 80
 * bytes per SunJCE update call, depending on the JIT's inlining decisions. We make at most one such call per
 * {@value #STAGE_BYTES} bytes of small updates, and for large updates one per 64 KiB plus at most two per update
 * ({@code StreamingGcmAllocationTest} bounds exactly this).
 *
 * <p><b>Limits.</b> SunJCE accepts messages up to about 2 GiB; longer ones fail in {@link #update} with SunJCE's
 * {@code ProviderException}. OpenSSL accepts up to 2^36 - 32 bytes, but the driver's messages are far smaller.
 *
 * <p>Not thread-safe: one instance per EVP context (or per thread), used by one thread at a time. Ciphers are
 * pinned to the SunJCE provider, so a provider the host registered first is never used. Memory: 16 KiB, plus
 * 64 KiB once it has decrypted.
 *
 * <p>State machine: {@code IDLE --begin--> ENCRYPTING|DECRYPTING --update*--> (same) --finish*--> IDLE};
 * {@code begin} may also abandon an unfinished message; {@link #wipe()} returns to {@code IDLE} from anywhere;
 * an exception from {@link #update} abandons the message. Invariant while a message is active:
 * {@code fed <= total}, {@code fed} is a multiple of {@value #PARALLEL_BYTES}, {@code stage[0, total - fed)} holds
 * the plaintext SunJCE has not seen yet ({@code total - fed < }{@value #STAGE_BYTES}), and for encryption
 * {@code keystream[0, ksBytes)} is the keystream from message position {@code fed}, covering the staged bytes.
 */
public final class StreamingGcm {

    /** Bytes in an IV. */
    public static final int IV_BYTES = GcmEngine.IV_BYTES;
    /** Bytes in a tag. */
    public static final int TAG_BYTES = GcmEngine.TAG_BYTES;

    private static final int BLOCK = 16;
    /** SunJCE's PARALLEL_LEN: every GCM update we make is a multiple of it. */
    static final int PARALLEL_BYTES = 512;
    /** Most bytes staged before they are given to SunJCE (a multiple of {@link #PARALLEL_BYTES}). */
    static final int STAGE_BYTES = 4096;
    /** Keystream computed ahead for small updates, so that 1-byte updates do not cost one ECB call per block. */
    private static final int KEYSTREAM_AHEAD = 256;
    private static final int CHUNK = JdkGcmEngine.CHUNK_BYTES;

    private static final int IDLE = 0;
    private static final int ENCRYPTING = 1;
    private static final int DECRYPTING = 2;

    /** Always in ENCRYPT mode: the ciphertext and tag of encryptions, the tag of decryptions. */
    private final Cipher gcm;
    /** Keystream for staged bytes (encryption). */
    private final Cipher ecb;
    /** The plaintext of decryptions. */
    private final Cipher ctr;

    private final ReusableSpecs.Gcm gcmSpec = new ReusableSpecs.Gcm();
    private final ReusableSpecs.Gcm rearmSpec = new ReusableSpecs.Gcm();
    private final ReusableSpecs.Iv16 ctrSpec = new ReusableSpecs.Iv16();

    /** The message's IV (encryption): the first 12 bytes of every counter block. */
    private final byte[] iv = new byte[IV_BYTES];
    /** Counter blocks {@code IV || be32(2 + blockIndex)}: input of the ECB cipher. */
    private final byte[] counterBlocks = new byte[STAGE_BYTES];
    /** Keystream from message position {@code fed} (encryption): {@code ksBytes} of it are valid. */
    private final byte[] keystream = new byte[STAGE_BYTES];
    /** Plaintext from message position {@code fed} that SunJCE has not seen yet: {@code total - fed} bytes. */
    private final byte[] stage = new byte[STAGE_BYTES];
    /** SunJCE's output for staged bytes (compared with what we wrote, then dropped) and doFinal's output. */
    private final byte[] sink = new byte[STAGE_BYTES + TAG_BYTES];
    /** Decryption only: the GCM cipher's dropped output, or the staged plaintext when decrypting in place. */
    private byte[] scratch;

    /** The key object and IV of the GCM cipher's last ENCRYPT init (for SunJCE's IV-reuse guard), or null. */
    private SecretKey gcmLastKey;
    private final byte[] gcmLastIv = new byte[IV_BYTES];
    /** The key object the ECB cipher holds, or null. */
    private SecretKey ecbKey;

    private int state = IDLE;
    /** Bytes of the current message consumed so far. */
    private long total;
    /** Bytes of the current message given to SunJCE's GCM cipher: a multiple of PARALLEL_BYTES. */
    private long fed;
    /** Valid bytes of {@code keystream} (a multiple of 16). */
    private int ksBytes;
    /** See {@link #gcmUpdateCalls()}. */
    private long gcmUpdateCalls;

    /** Creates the three SunJCE ciphers; one instance then serves any number of messages and keys. */
    public StreamingGcm() throws GeneralSecurityException {
        gcm = Cipher.getInstance("AES/GCM/NoPadding", "SunJCE");
        ecb = Cipher.getInstance("AES/ECB/NoPadding", "SunJCE");
        ctr = Cipher.getInstance("AES/CTR/NoPadding", "SunJCE");
    }

    /**
     * {@link #StreamingGcm()} for use as a {@code Supplier}, e.g.
     * {@code GcmSelfTest.runStreaming(StreamingGcm::create)}.
     *
     * @throws IllegalStateException if SunJCE lacks AES/GCM, AES/ECB or AES/CTR
     */
    public static StreamingGcm create() {
        try {
            return new StreamingGcm();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SunJCE AES ciphers unavailable: " + e.getMessage(), e);
        }
    }

    /**
     * Gets SunJCE's GCM, CTR and ECB paths that StreamingGcm uses C2-compiled, on the calling thread (compilation
     * is JVM-wide), so that the first real messages run at intrinsic speed and a later self-test
     * ({@link GcmSelfTest#runStreaming}) checks the intrinsic code rather than the interpreter's.
     *
     * <p>Why small messages: C2 compiles SunJCE's caller of the GCM intrinsic after some 5,000 update calls,
     * whatever their size, and until then every byte runs through the Java fallback at ~0.035 GB/s. Measured on
     * the 2-core VM: 1 MiB messages in 65,539-byte updates needed ~4.4 s (~150 messages) to get fast, 65,024-byte
     * updates ~7 s; after ~0.3 s of 4 KiB messages in 512-byte updates, both directions, the first such 1 MiB
     * message was already fast. So this runs rounds of 4 KiB messages (512-byte updates, and ragged ones for the
     * staging path) and after each round probes one 1 MiB message each way, until both exceed 1 GB/s twice in a
     * row or the budget is spent. Uses its own instance and a fixed dummy key; allocates ~3 MiB.
     *
     * @return messages run, time taken, the last probe's slower direction (GB/s), and whether it got fast
     */
    public static JdkGcmEngine.WarmUpReport warmUp(long budgetNanos) {
        final long start = System.nanoTime();
        final StreamingGcm gcm = create();
        final SecretKey key = new SecretKeySpec(new byte[] {
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
            17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}, "AES");
        final int probeBytes = 1 << 20;
        final byte[] in = new byte[probeBytes];
        final byte[] out = new byte[probeBytes];
        final byte[] tag = new byte[TAG_BYTES];
        final byte[] nonce = new byte[IV_BYTES];
        long messages = 0;
        int fastInARow = 0;
        double lastGbps = 0;
        try {
            while (System.nanoTime() - start < budgetNanos) {
                for (int m = 0; m < 128; m++) {
                    bumpNonce(nonce);
                    final int step = (m & 7) == 7 ? 513 : PARALLEL_BYTES;
                    for (int d = 0; d < 2; d++) {
                        gcm.begin(key, nonce, d == 0);
                        for (int p = 0; p < 4096; p += step) {
                            gcm.update(in, p, Math.min(step, 4096 - p), out, p);
                        }
                        if (d == 0) {
                            gcm.finishEncrypt(tag);
                        } else {
                            gcm.finishDecrypt(tag, TAG_BYTES);
                        }
                    }
                    messages += 2;
                }
                double slowest = Double.MAX_VALUE;
                for (int d = 0; d < 2; d++) {
                    bumpNonce(nonce);
                    final long t0 = System.nanoTime();
                    gcm.begin(key, nonce, d == 0);
                    for (int p = 0; p < probeBytes; p += CHUNK + 3) {
                        gcm.update(in, p, Math.min(CHUNK + 3, probeBytes - p), out, p);
                    }
                    if (d == 0) {
                        gcm.finishEncrypt(tag);
                    } else {
                        gcm.finishDecrypt(tag, TAG_BYTES);
                    }
                    slowest = Math.min(slowest, (double) probeBytes / (System.nanoTime() - t0));
                    messages++;
                }
                lastGbps = slowest;
                fastInARow = slowest > 1.0 ? fastInARow + 1 : 0;
                if (fastInARow >= 2) {
                    return new JdkGcmEngine.WarmUpReport(messages, System.nanoTime() - start, lastGbps, true);
                }
            }
            return new JdkGcmEngine.WarmUpReport(messages, System.nanoTime() - start, lastGbps, false);
        } finally {
            gcm.wipe();
        }
    }

    private static void bumpNonce(byte[] nonce) {
        for (int i = 0; i < nonce.length && ++nonce[i] == 0; i++) {
            // carry
        }
    }

    /**
     * Starts a message under {@code key} (AES-128/192/256; the agent uses 256) and the 12-byte {@code iv12}. An
     * unfinished previous message is abandoned.
     *
     * @throws IllegalArgumentException if {@code iv12} is not 12 bytes or SunJCE rejects the key (for instance a
     *                                  destroyed {@code GcmKey}); the instance is then idle and still usable
     */
    public void begin(SecretKey key, byte[] iv12, boolean encrypt) {
        Objects.requireNonNull(key, "key");
        if (iv12.length != IV_BYTES) {
            throw new IllegalArgumentException("GCM IV must be " + IV_BYTES + " bytes, got " + iv12.length);
        }
        state = IDLE;
        total = 0;
        fed = 0;
        ksBytes = 0;
        try {
            if (encrypt) {
                if (key != ecbKey) {
                    ecbKey = null;
                    ecb.init(Cipher.ENCRYPT_MODE, key);
                    ecbKey = key;
                }
                System.arraycopy(iv12, 0, iv, 0, IV_BYTES);
            } else {
                if (scratch == null) {
                    scratch = new byte[CHUNK];
                }
                byte[] c = ctrSpec.iv;
                System.arraycopy(iv12, 0, c, 0, IV_BYTES);
                c[12] = 0;
                c[13] = 0;
                c[14] = 0;
                c[15] = 2;
                ctr.init(Cipher.ENCRYPT_MODE, key, ctrSpec);
            }
            initGcm(key, iv12);
        } catch (InvalidKeyException e) {
            throw new IllegalArgumentException("SunJCE refused the key: " + e.getMessage(), e);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SunJCE init failed: " + e.getMessage(), e);
        }
        state = encrypt ? ENCRYPTING : DECRYPTING;
    }

    private void initGcm(SecretKey key, byte[] iv) throws GeneralSecurityException {
        System.arraycopy(iv, 0, gcmSpec.iv, 0, IV_BYTES);
        if (key == gcmLastKey && Arrays.equals(iv, 0, IV_BYTES, gcmLastIv, 0, IV_BYTES)) {
            rearm(key, iv);
        }
        gcmLastKey = null;
        try {
            gcm.init(Cipher.ENCRYPT_MODE, key, gcmSpec);
        } catch (InvalidAlgorithmParameterException sameKeyBytesAndIv) {
            // Another key object with the same bytes (SunJCE compares bytes): rare, so an exception is fine.
            rearm(key, iv);
            gcm.init(Cipher.ENCRYPT_MODE, key, gcmSpec);
        }
        gcmLastKey = key;
        System.arraycopy(iv, 0, gcmLastIv, 0, IV_BYTES);
    }

    /** Makes SunJCE's "last IV" differ from {@code iv}; nothing is ever encrypted under the scratch IV. */
    private void rearm(SecretKey key, byte[] iv) throws GeneralSecurityException {
        System.arraycopy(iv, 0, rearmSpec.iv, 0, IV_BYTES);
        rearmSpec.iv[0] ^= (byte) 0xFF;
        gcm.init(Cipher.ENCRYPT_MODE, key, rearmSpec);
    }

    /**
     * Encrypts or decrypts the next {@code len} bytes of the message, {@code in[inOff, inOff+len)}, writing exactly
     * {@code len} bytes to {@code out[outOff, outOff+len)}. Any {@code len >= 0}; {@code in == out} with
     * {@code inOff == outOff} (exact in place) is allowed, partial overlaps are not. (Disjoint ranges of one
     * array work, but an encryption whose output lies after its input makes SunJCE copy the whole array.)
     *
     * @throws IllegalStateException if no message is active, or SunJCE failed (the message is then abandoned)
     */
    public void update(byte[] in, int inOff, int len, byte[] out, int outOff) {
        Objects.checkFromIndexSize(inOff, len, in.length);
        Objects.checkFromIndexSize(outOff, len, out.length);
        final int s = state;
        if (s == IDLE) {
            throw new IllegalStateException("update without begin");
        }
        if (len == 0) {
            return;
        }
        try {
            if (s == ENCRYPTING) {
                encryptUpdate(in, inOff, len, out, outOff);
            } else {
                decryptUpdate(in, inOff, len, out, outOff);
            }
        } catch (ShortBufferException e) {
            state = IDLE;
            throw new IllegalStateException("SunJCE update failed: " + e.getMessage(), e);
        } catch (RuntimeException | Error e) {
            state = IDLE; // the ciphers' position is unknown: the message cannot continue
            throw e;
        }
    }

    // ------------------------------------------------------------------------------------------ encryption

    private void encryptUpdate(byte[] in, int inOff, int len, byte[] out, int outOff) throws ShortBufferException {
        int done = 0;
        while (done < len) {
            final int pending = (int) (total - fed);
            final int remaining = len - done;
            if (pending == 0 && remaining >= PARALLEL_BYTES) {
                // Straight through SunJCE into the caller's output: the single AES pass.
                final int n = Math.min(CHUNK, remaining & -PARALLEL_BYTES);
                expect(gcmUpdate(in, inOff + done, n, out, outOff + done), n);
                done += n;
                total += n;
                fed = total;
                ksBytes = 0;
                continue;
            }
            final int k = stageLength(pending, remaining);
            if (k > 0) {
                ensureKeystream(pending + k);
                final byte[] stage = this.stage;
                final byte[] ks = this.keystream;
                final int o = outOff + done;
                final int i0 = inOff + done;
                for (int i = 0; i < k; i++) {
                    final byte b = in[i0 + i];
                    stage[pending + i] = b;
                    out[o + i] = (byte) (b ^ ks[pending + i]);
                }
                done += k;
                total += k;
            }
            if (mustFlush(pending, k, remaining)) {
                flushEncrypt(pending + k);
            }
        }
    }

    /**
     * How many of the {@code remaining} update bytes to stage behind {@code pending} staged ones: just enough to
     * reach the next {@value #PARALLEL_BYTES}-byte boundary when the rest can then go straight to SunJCE,
     * otherwise as many as fit.
     */
    private static int stageLength(int pending, int remaining) {
        final int toBoundary = -pending & (PARALLEL_BYTES - 1);
        if (pending > 0 && remaining - toBoundary >= PARALLEL_BYTES) {
            return toBoundary;
        }
        return Math.min(remaining, STAGE_BYTES - pending);
    }

    /** Whether, after staging {@code k} bytes, the stage (then a multiple of 512 bytes) goes to SunJCE now. */
    private static boolean mustFlush(int pending, int k, int remaining) {
        final int staged = pending + k;
        return staged == STAGE_BYTES
                || (staged > 0 && (staged & (PARALLEL_BYTES - 1)) == 0 && remaining - k >= PARALLEL_BYTES);
    }

    /** Makes {@code keystream[0, upTo)} valid (and some bytes beyond, for small updates). */
    private void ensureKeystream(int upTo) throws ShortBufferException {
        final int from = ksBytes;
        if (from >= upTo) {
            return;
        }
        final int to = Math.min(STAGE_BYTES, Math.max((upTo + BLOCK - 1) & -BLOCK, from + KEYSTREAM_AHEAD));
        final byte[] c = counterBlocks;
        int counter = (int) (2 + ((fed + from) >>> 4)); // GCM's inc32: the low 32 bits wrap
        for (int at = from; at < to; at += BLOCK, counter++) {
            System.arraycopy(iv, 0, c, at, IV_BYTES);
            c[at + 12] = (byte) (counter >>> 24);
            c[at + 13] = (byte) (counter >>> 16);
            c[at + 14] = (byte) (counter >>> 8);
            c[at + 15] = (byte) counter;
        }
        expect(ecb.update(c, from, to - from, keystream, from), to - from);
        ksBytes = to;
    }

    /** Gives the {@code n} staged bytes to SunJCE and checks its ciphertext against the bytes already written. */
    private void flushEncrypt(int n) throws ShortBufferException {
        expect(gcmUpdate(stage, 0, n, sink, 0), n);
        checkStagedCiphertext(n);
        fed += n;
        ksBytes = 0;
    }

    private void checkStagedCiphertext(int n) {
        final byte[] stage = this.stage;
        final byte[] ks = this.keystream;
        final byte[] sink = this.sink;
        int diff = 0;
        for (int i = 0; i < n; i++) {
            diff |= sink[i] ^ stage[i] ^ ks[i];
        }
        if (diff != 0) {
            throw new IllegalStateException("keystream ciphertext disagrees with SunJCE's (key object changed?)");
        }
    }

    // ------------------------------------------------------------------------------------------ decryption

    private void decryptUpdate(byte[] in, int inOff, int len, byte[] out, int outOff) throws ShortBufferException {
        final byte[] scratch = this.scratch;
        final boolean sameArray = in == out;
        for (int done = 0; done < len; ) {
            final int n = Math.min(CHUNK, len - done);
            if (sameArray) {
                // SunJCE's CTR would copy an in-place input (allocating): stage the plaintext instead.
                expect(ctr.update(in, inOff + done, n, scratch, 0), n);
                System.arraycopy(scratch, 0, out, outOff + done, n);
                absorbPlaintext(scratch, 0, n, true);
            } else {
                expect(ctr.update(in, inOff + done, n, out, outOff + done), n);
                absorbPlaintext(out, outOff + done, n, false);
            }
            done += n;
        }
    }

    /**
     * Feeds {@code n <= CHUNK} recovered plaintext bytes to the GCM cipher, staged as for encryption. Its output
     * is dropped into {@code scratch}: in place when the plaintext itself lies there ({@code srcIsScratch}).
     */
    private void absorbPlaintext(byte[] src, int off, int n, boolean srcIsScratch) throws ShortBufferException {
        int done = 0;
        while (done < n) {
            final int pending = (int) (total - fed);
            final int remaining = n - done;
            if (pending == 0 && remaining >= PARALLEL_BYTES) {
                final int m = remaining & -PARALLEL_BYTES;
                expect(srcIsScratch
                        ? gcmUpdate(src, off + done, m, src, off + done)
                        : gcmUpdate(src, off + done, m, scratch, 0), m);
                done += m;
                total += m;
                fed = total;
                continue;
            }
            final int k = stageLength(pending, remaining);
            if (k > 0) {
                System.arraycopy(src, off + done, stage, pending, k);
                done += k;
                total += k;
            }
            if (mustFlush(pending, k, remaining)) {
                expect(gcmUpdate(stage, 0, pending + k, sink, 0), pending + k);
                fed = total;
            }
        }
    }

    // ------------------------------------------------------------------------------------------ finish

    /**
     * Ends an encryption: writes the 16-byte tag to {@code tag16[0, 16)}. All ciphertext was written by the
     * updates.
     *
     * @throws IllegalStateException if no encryption is active
     */
    public void finishEncrypt(byte[] tag16) {
        if (state != ENCRYPTING) {
            throw new IllegalStateException(state == IDLE ? "finish without begin" : "finishEncrypt on a decryption");
        }
        Objects.checkFromIndexSize(0, TAG_BYTES, tag16.length);
        final int pending = (int) (total - fed);
        state = IDLE;
        try {
            expect(gcm.doFinal(stage, 0, pending, sink, 0), pending + TAG_BYTES);
            checkStagedCiphertext(pending);
            System.arraycopy(sink, pending, tag16, 0, TAG_BYTES);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SunJCE doFinal failed: " + e.getMessage(), e);
        } finally {
            clearMessageBuffers(pending);
        }
    }

    /**
     * Ends a decryption: computes the tag of the received ciphertext and compares its first {@code tagLen} bytes
     * with {@code expectedTag[0, tagLen)} in constant time. The plaintext was already written by the updates;
     * on {@code false} the caller must discard it.
     *
     * @return {@code true} if the tag matches; {@code false} on a mismatch or if {@code tagLen} is outside 1..16
     *         or longer than {@code expectedTag} (the message is ended either way)
     * @throws IllegalStateException if no decryption is active
     */
    public boolean finishDecrypt(byte[] expectedTag, int tagLen) {
        if (state != DECRYPTING) {
            throw new IllegalStateException(state == IDLE ? "finish without begin" : "finishDecrypt on an encryption");
        }
        final int pending = (int) (total - fed);
        state = IDLE;
        try {
            expect(gcm.doFinal(stage, 0, pending, sink, 0), pending + TAG_BYTES);
            if (tagLen < 1 || tagLen > TAG_BYTES || expectedTag.length < tagLen) {
                return false;
            }
            int diff = 0;
            for (int i = 0; i < tagLen; i++) {
                diff |= sink[pending + i] ^ expectedTag[i];
            }
            return diff == 0;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SunJCE doFinal failed: " + e.getMessage(), e);
        } finally {
            clearMessageBuffers(pending);
        }
    }

    /** Zeroes the plaintext and keystream left from a message (the first {@code pending} bytes were in use). */
    private void clearMessageBuffers(int pending) {
        Arrays.fill(stage, 0, pending, (byte) 0);
        Arrays.fill(sink, 0, pending + TAG_BYTES, (byte) 0);
        Arrays.fill(keystream, 0, ksBytes, (byte) 0);
        ksBytes = 0;
    }

    /**
     * Ends any message, drops the key references, re-keys the ciphers with an all-zero key (so SunJCE zeroes or
     * drops its copies of the real one) and zeroes every internal buffer. The instance stays usable.
     */
    public void wipe() {
        state = IDLE;
        total = 0;
        fed = 0;
        ksBytes = 0;
        gcmLastKey = null;
        ecbKey = null;
        SecretKeySpec zero = new SecretKeySpec(new byte[32], "AES");
        try {
            rearmSpec.iv[0] = 0x5A;
            gcm.init(Cipher.ENCRYPT_MODE, zero, rearmSpec);
            gcmSpec.iv[0] = (byte) 0xA5;
            gcm.init(Cipher.ENCRYPT_MODE, zero, gcmSpec); // also replaces SunJCE's "last key" copy
        } catch (GeneralSecurityException | RuntimeException ignored) {
            // Best effort: the key copies become garbage with the cipher either way.
        }
        try {
            ecb.init(Cipher.ENCRYPT_MODE, zero);
        } catch (GeneralSecurityException | RuntimeException ignored) {
            // Best effort, as above.
        }
        try {
            ctr.init(Cipher.ENCRYPT_MODE, zero, ctrSpec);
        } catch (GeneralSecurityException | RuntimeException ignored) {
            // Best effort, as above.
        }
        Arrays.fill(stage, (byte) 0);
        Arrays.fill(sink, (byte) 0);
        Arrays.fill(keystream, (byte) 0);
        Arrays.fill(counterBlocks, (byte) 0);
        Arrays.fill(iv, (byte) 0);
        Arrays.fill(gcmLastIv, (byte) 0);
        Arrays.fill(gcmSpec.iv, (byte) 0);
        Arrays.fill(rearmSpec.iv, (byte) 0);
        Arrays.fill(ctrSpec.iv, (byte) 0);
        if (scratch != null) {
            Arrays.fill(scratch, (byte) 0);
        }
    }

    /** Every GCM update goes through here (one call site into SunJCE); counted for the allocation test. */
    private int gcmUpdate(byte[] in, int inOff, int len, byte[] out, int outOff) throws ShortBufferException {
        gcmUpdateCalls++;
        return gcm.update(in, inOff, len, out, outOff);
    }

    /** SunJCE GCM update calls made by this instance so far (tests bound SunJCE's own per-call allocation). */
    long gcmUpdateCalls() {
        return gcmUpdateCalls;
    }

    private static void expect(int produced, int expected) {
        if (produced != expected) {
            throw new IllegalStateException("SunJCE produced " + produced + " bytes, expected " + expected);
        }
    }
}
