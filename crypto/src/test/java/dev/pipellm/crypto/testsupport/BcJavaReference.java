package dev.pipellm.crypto.testsupport;

import org.bouncycastle.crypto.InvalidCipherTextException;
import org.bouncycastle.crypto.engines.AESEngine;
import org.bouncycastle.crypto.modes.GCMBlockCipher;
import org.bouncycastle.crypto.params.AEADParameters;
import org.bouncycastle.crypto.params.KeyParameter;

/** Pure-Java Bouncy Castle (bcprov-jdk18on) AES-GCM: an independent reference, any IV length. Tests only. */
public final class BcJavaReference {
    private BcJavaReference() {
    }

    /** Ciphertext followed by the 16-byte tag. */
    public static byte[] encrypt(byte[] key, byte[] iv, byte[] aad, byte[] msg) {
        var gcm = GCMBlockCipher.newInstance(AESEngine.newInstance());
        gcm.init(true, new AEADParameters(new KeyParameter(key), 128, iv, aad));
        byte[] out = new byte[gcm.getOutputSize(msg.length)];
        int n = gcm.processBytes(msg, 0, msg.length, out, 0);
        try {
            gcm.doFinal(out, n);
        } catch (InvalidCipherTextException e) {
            throw new AssertionError(e);
        }
        return out;
    }

    /** The plaintext, or {@code null} if the tag does not verify. */
    public static byte[] decrypt(byte[] key, byte[] iv, byte[] aad, byte[] ctAndTag) {
        var gcm = GCMBlockCipher.newInstance(AESEngine.newInstance());
        try {
            gcm.init(false, new AEADParameters(new KeyParameter(key), 128, iv, aad));
        } catch (IllegalArgumentException refused) {
            return null; // e.g. an empty IV, which GCM forbids
        }
        byte[] out = new byte[gcm.getOutputSize(ctAndTag.length)];
        int n = gcm.processBytes(ctAndTag, 0, ctAndTag.length, out, 0);
        try {
            gcm.doFinal(out, n);
            return out;
        } catch (InvalidCipherTextException e) {
            return null;
        }
    }
}
