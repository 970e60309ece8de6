package dev.pipellm.agent.evp;

import java.security.GeneralSecurityException;
import java.security.InvalidAlgorithmParameterException;
import java.util.Arrays;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * AES-256-GCM with OpenSSL's streaming per-call behaviour, built from two SunJCE ciphers:
 * <ul>
 *   <li>{@code AES/CTR/NoPadding} started at counter block J0+1 = IV || 00000002 produces the
 *       ciphertext (or plaintext) byte for byte as each update arrives. SunJCE's GCM cipher cannot: it
 *       holds back partial blocks when encrypting and everything when decrypting.</li>
 *   <li>{@code AES/GCM/NoPadding} in ENCRYPT mode, fed the plaintext, computes the tag (its own
 *       ciphertext output goes to scratch and is dropped). For decryption it is fed the plaintext the
 *       CTR cipher recovered: re-encrypting it yields the received ciphertext, so the tag it computes is
 *       the tag of the received ciphertext, without SunJCE's decrypt-side buffering of the whole
 *       message. The caller compares it in constant time.</li>
 * </ul>
 * Only 12-byte IVs (J0 = IV || 00000001), 16-byte tags, no AAD.
 *
 * <p>SunJCE refuses an ENCRYPT init with the same key and IV as the previous one on the same
 * instance; when that happens (a decrypt message with the IV of the previous encrypt on a pooled
 * stream, or the driver reusing an IV) the tag cipher is re-armed with another IV first. This is not
 * an IV reuse on the wire: the tag cipher's ciphertext is discarded. Ciphers are pinned to the SunJCE provider so a provider the host
 * registered first is never used.
 *
 * <p>Not thread-safe: one per EVP context, used by the thread that holds the context.
 * Key copies inside the JDK objects are dropped on {@link #wipe()} (SunJCE offers no way to zero them).
 */
final class GcmStream {
    static final int TAG_BYTES = 16;
    static final int IV_BYTES = 12;

    private final Cipher ctr;
    private final Cipher tagger;
    private final byte[] ctrIv = new byte[16];
    private final byte[] rearmIv = new byte[IV_BYTES];
    private SecretKeySpec keySpec;

    GcmStream() throws GeneralSecurityException {
        ctr = Cipher.getInstance("AES/CTR/NoPadding", "SunJCE");
        tagger = Cipher.getInstance("AES/GCM/NoPadding", "SunJCE");
    }

    /**
     * Starts a message. {@code newKey}: the key differs from the one of the previous message on this
     * stream (or there was none), so a new key object is made; otherwise the previous one is reused.
     */
    void begin(byte[] key, boolean newKey, byte[] iv) throws GeneralSecurityException {
        if (newKey || keySpec == null) keySpec = new SecretKeySpec(key, "AES");
        System.arraycopy(iv, 0, ctrIv, 0, IV_BYTES);
        ctrIv[12] = 0;
        ctrIv[13] = 0;
        ctrIv[14] = 0;
        ctrIv[15] = 2;
        ctr.init(Cipher.ENCRYPT_MODE, keySpec, new IvParameterSpec(ctrIv));
        try {
            tagger.init(Cipher.ENCRYPT_MODE, keySpec, new GCMParameterSpec(TAG_BYTES * 8, iv));
        } catch (InvalidAlgorithmParameterException sameKeyAndIv) {
            // SunJCE remembers the last (key, IV) of this instance, also across pooled contexts: re-arm
            System.arraycopy(iv, 0, rearmIv, 0, IV_BYTES);
            rearmIv[0] ^= (byte) 0xff;
            tagger.init(Cipher.ENCRYPT_MODE, keySpec, new GCMParameterSpec(TAG_BYTES * 8, rearmIv));
            tagger.init(Cipher.ENCRYPT_MODE, keySpec, new GCMParameterSpec(TAG_BYTES * 8, iv));
        }
    }

    /**
     * Transforms {@code n} bytes of {@code src} into {@code dst} (CTR: the same operation for both
     * directions) and feeds the plaintext to the tag cipher. {@code scratch} needs {@code n + 16} bytes.
     */
    void update(boolean enc, byte[] src, int n, byte[] dst, byte[] scratch) throws GeneralSecurityException {
        int produced = ctr.update(src, 0, n, dst, 0);
        if (produced != n) throw new IllegalStateException("CTR produced " + produced + " of " + n + " bytes");
        tagger.update(enc ? src : dst, 0, n, scratch, 0);
    }

    /** Ends the message: writes the 16-byte tag into {@code tag}. {@code scratch} needs 32 bytes. */
    void finish(byte[] scratch, byte[] tag) throws GeneralSecurityException {
        int len = tagger.doFinal(scratch, 0);
        if (len < TAG_BYTES) throw new IllegalStateException("GCM final produced " + len + " bytes");
        System.arraycopy(scratch, len - TAG_BYTES, tag, 0, TAG_BYTES);
    }

    void wipe() {
        keySpec = null;
        Arrays.fill(ctrIv, (byte) 0);
        Arrays.fill(rearmIv, (byte) 0);
    }
}
