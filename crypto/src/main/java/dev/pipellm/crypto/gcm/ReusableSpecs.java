package dev.pipellm.crypto.gcm;

import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.IvParameterSpec;

/**
 * Parameter specs whose IV is overwritten in place, so that re-initialising a SunJCE {@code Cipher} per message
 * allocates no spec. SunJCE keeps the array {@code getIV()} returns (as its "last IV" or its counter), so
 * {@code getIV()} must hand out a copy, as the JDK's own specs do. Not thread-safe: one per cipher.
 */
final class ReusableSpecs {

    private ReusableSpecs() {
    }

    /** A 96-bit-IV, 128-bit-tag {@link GCMParameterSpec}; write the IV into {@link #iv}. */
    static final class Gcm extends GCMParameterSpec {
        final byte[] iv = new byte[GcmEngine.IV_BYTES];

        Gcm() {
            super(GcmEngine.TAG_BYTES * 8, new byte[GcmEngine.IV_BYTES]);
        }

        @Override
        public byte[] getIV() {
            return iv.clone();
        }

        @Override
        public int getTLen() {
            return GcmEngine.TAG_BYTES * 8;
        }
    }

    /** A 16-byte {@link IvParameterSpec} (an AES/CTR initial counter block); write it into {@link #iv}. */
    static final class Iv16 extends IvParameterSpec {
        final byte[] iv = new byte[16];

        Iv16() {
            super(new byte[16]);
        }

        @Override
        public byte[] getIV() {
            return iv.clone();
        }
    }
}
