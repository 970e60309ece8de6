package dev.pipellm.crypto.gcm;

import dev.pipellm.crypto.key.GcmKey;

import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The start-up check an engine must pass before it is used (see {@link GcmEngineSelector}).
 *
 * <p>Three parts: (1) known answers: NIST SP 800-38D test cases 13 and 14 (AES-256, from the GCM specification's
 * appendix) and five AES-256 vectors from Project Wycheproof {@code aes_gcm_test.json} (Apache 2.0), including
 * AAD, a non-block length and a flipped tag bit that must be rejected; (2) refusals: a 16-byte IV and a short tag
 * buffer must be refused, not computed; (3) a cross-check of large messages (heap and off-heap, sizes that cross
 * the 64 KiB chunk and 1 MiB split boundaries) against a plain one-shot SunJCE {@link Cipher}, plus decryption of
 * each result and rejection of a corrupted one.
 *
 * <p>Runs once per engine at selection; allocates freely.
 */
public final class GcmSelfTest {

    /** A known-answer vector; {@code valid == false} means decryption must report a tag mismatch. */
    record Kat(String id, String key, String iv, String aad, String msg, String ct, String tag, boolean valid) {
    }

    static final List<Kat> KATS = List.of(
            new Kat("nist-gcm-tc13", "00".repeat(32), "00".repeat(12), "", "", "",
                    "530f8afbc74536b9a963b4f1c4cb738b", true),
            new Kat("nist-gcm-tc14", "00".repeat(32), "00".repeat(12), "", "00".repeat(16),
                    "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919", true),
            new Kat("wycheproof-tc91", "92ace3e348cd821092cd921aa3546374299ab46209691bc28b8752d17f123c20", "00112233445566778899aabb", "00000000ffffffff", "00010203040506070809", "e27abdd2d2a53d2f136b", "9a4a2579529301bcfb71c78d4060f52c", true),
            new Kat("wycheproof-tc100", "b279f57e19c8f53f2f963f5f2519fdb7c1779be2ca2b3ae8e1128b7d6c627fc4", "98bc2c7438d5cd7665d76f6e", "c0", "fcc515b294408c8645c9183e3f4ecee5127846d1", "eb5500e3825952866d911253f8de860c00831c81", "ecb660e1fb0541ec41e8d68a64141b3a", true),
            new Kat("wycheproof-tc104", "6efca98126918ab564d88c6bec02e8998b2be50e3f906ff9adfdd185f373e756", "4abd6cfc83bd06b11efaa2a7", "", "bbec79c086d41e602d090f7e40494d6bf3faa1dc6df0ab8a88ea5d35d426b248c2ad880351e223f6170d37cc9655e10459e59cbd6d1c092ed31d72ccc7af20", "97b4c73a4d8b5b21bc4b50dbb70dfa77b1a7bf0bbe7cf16ecf5bb60ba8070acc5740780435ed145a62a613dd9881b721168fbb3f5af385ee5d4f856cf93cba", "27ac8c4010d8e81b7051ceb06b30fe2d", true),
            new Kat("wycheproof-tc128", "00112233445566778899aabbccddeeff102132435465768798a9bacbdcedfe0f", "000000000000000000000000", "", "561008fa07a68f5c61285cd013464eaf", "23293e9b07ca7d1b0cae7cc489a973b3", "ffffffffffffffffffffffffffffffff", true),
            new Kat("wycheproof-tc130", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "505152535455565758595a5b", "", "202122232425262728292a2b2c2d2e2f", "b2061457c0759fc1749f174ee1ccadfa", "9de8fef6d8ab1bf1bf887232eab590dd", false));

    /** Sizes for the cross-check: empty, sub-block, around the 64 KiB chunk, and across SunJCE's 1 MiB split. */
    static final int[] CROSS_CHECK_SIZES = {0, 1, 15, 16, 17, 511, 4096, 65535, 65536, 65537, 200_003, (1 << 20) + 33};

    private GcmSelfTest() {
    }

    /**
     * @return {@code null} if the engine passed, otherwise the first failure (names the check, never key bytes)
     */
    public static String run(GcmEngine engine) {
        try {
            String failure = knownAnswers(engine);
            if (failure == null) {
                failure = refusals(engine);
            }
            if (failure == null) {
                failure = crossCheck(engine);
            }
            return failure;
        } catch (RuntimeException | Error e) {
            return "self-test threw " + e.getClass().getName() + ": " + e.getMessage();
        }
    }

    private static String knownAnswers(GcmEngine engine) {
        HexFormat hex = HexFormat.of();
        for (Kat kat : KATS) {
            byte[] msg = hex.parseHex(kat.msg());
            byte[] ct = hex.parseHex(kat.ct());
            byte[] tag = hex.parseHex(kat.tag());
            byte[] iv = hex.parseHex(kat.iv());
            byte[] aad = kat.aad().isEmpty() ? null : hex.parseHex(kat.aad());
            try (GcmKey key = GcmKey.copyOf(hex.parseHex(kat.key()))) {
                byte[] back = new byte[msg.length];
                int status = engine.decrypt(key, iv, aad, ct, 0, ct.length, back, 0, tag, 0);
                if (!kat.valid()) {
                    if (status != GcmEngine.TAG_MISMATCH) {
                        return kat.id() + ": invalid tag accepted (" + GcmEngine.statusName(status) + ")";
                    }
                    continue;
                }
                if (status != GcmEngine.OK || !Arrays.equals(back, msg)) {
                    return kat.id() + ": decrypt " + GcmEngine.statusName(status);
                }
                byte[] out = new byte[msg.length];
                byte[] outTag = new byte[GcmEngine.TAG_BYTES];
                status = engine.encrypt(key, iv, aad, msg, 0, msg.length, out, 0, outTag, 0);
                if (status != GcmEngine.OK || !Arrays.equals(out, ct) || !Arrays.equals(outTag, tag)) {
                    return kat.id() + ": encrypt mismatch (" + GcmEngine.statusName(status) + ")";
                }
            }
        }
        return null;
    }

    private static String refusals(GcmEngine engine) {
        try (GcmKey key = GcmKey.copyOf(new byte[32])) {
            byte[] buf = new byte[64];
            int status = engine.encrypt(key, new byte[16], null, buf, 0, 16, buf, 32, buf, 48);
            if (status != GcmEngine.UNSUPPORTED_IV_LENGTH) {
                return "16-byte IV not refused: " + GcmEngine.statusName(status);
            }
            status = engine.encrypt(key, new byte[12], null, buf, 0, 16, buf, 16, new byte[8], 0);
            if (status != GcmEngine.INVALID_ARGUMENT) {
                return "8-byte tag buffer not refused: " + GcmEngine.statusName(status);
            }
        }
        return null;
    }

    private static String crossCheck(GcmEngine engine) {
        SplittableRandom random = new SplittableRandom(0x5EED_6C3L);
        byte[] keyBytes = new byte[32];
        random.nextBytes(keyBytes);
        try (GcmKey key = GcmKey.copyOf(keyBytes); Arena arena = Arena.ofConfined()) {
            Cipher reference = Cipher.getInstance("AES/GCM/NoPadding", "SunJCE");
            SecretKeySpec spec = new SecretKeySpec(keyBytes, "AES");
            for (int size : CROSS_CHECK_SIZES) {
                byte[] msg = new byte[size];
                random.nextBytes(msg);
                byte[] iv = new byte[GcmEngine.IV_BYTES];
                random.nextBytes(iv);
                reference.init(Cipher.ENCRYPT_MODE, spec, new GCMParameterSpec(128, iv));
                byte[] expected = reference.doFinal(msg);

                byte[] ct = new byte[size];
                byte[] tag = new byte[GcmEngine.TAG_BYTES];
                int status = engine.encrypt(key, iv, null, msg, 0, size, ct, 0, tag, 0);
                if (status != GcmEngine.OK || !Arrays.equals(ct, 0, size, expected, 0, size)
                        || !Arrays.equals(tag, 0, 16, expected, size, size + 16)) {
                    return "heap encrypt of " + size + " bytes differs from SunJCE one-shot ("
                            + GcmEngine.statusName(status) + ")";
                }
                MemorySegment segIn = arena.allocate(Math.max(1, size)).asSlice(0, size);
                MemorySegment segOut = arena.allocate(Math.max(1, size)).asSlice(0, size);
                MemorySegment segTag = arena.allocate(GcmEngine.TAG_BYTES);
                MemorySegment.copy(msg, 0, segIn, ValueLayout.JAVA_BYTE, 0, size);
                status = engine.encrypt(key, iv, null, segIn, segOut, segTag);
                if (status != GcmEngine.OK
                        || !Arrays.equals(segOut.toArray(ValueLayout.JAVA_BYTE), 0, size, expected, 0, size)
                        || !Arrays.equals(segTag.toArray(ValueLayout.JAVA_BYTE), 0, 16, expected, size, size + 16)) {
                    return "segment encrypt of " + size + " bytes differs from SunJCE one-shot ("
                            + GcmEngine.statusName(status) + ")";
                }
                byte[] back = new byte[size];
                status = engine.decrypt(key, iv, null, ct, 0, size, back, 0, tag, 0);
                if (status != GcmEngine.OK || !Arrays.equals(back, msg)) {
                    return "heap decrypt of " + size + " bytes failed (" + GcmEngine.statusName(status) + ")";
                }
                status = engine.decrypt(key, iv, null, segOut, segIn, segTag);
                if (status != GcmEngine.OK || !Arrays.equals(segIn.toArray(ValueLayout.JAVA_BYTE), msg)) {
                    return "segment decrypt of " + size + " bytes failed (" + GcmEngine.statusName(status) + ")";
                }
                tag[size % GcmEngine.TAG_BYTES] ^= 1;
                status = engine.decrypt(key, iv, null, ct, 0, size, back, 0, tag, 0);
                if (status != GcmEngine.TAG_MISMATCH) {
                    return "corrupted tag accepted for " + size + " bytes (" + GcmEngine.statusName(status) + ")";
                }
            }
        } catch (java.security.GeneralSecurityException e) {
            return "reference SunJCE cipher unavailable: " + e;
        }
        return null;
    }
}
