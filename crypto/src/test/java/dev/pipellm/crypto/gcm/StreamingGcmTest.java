package dev.pipellm.crypto.gcm;

import dev.pipellm.crypto.key.GcmKey;
import dev.pipellm.crypto.testsupport.OpenSslGcm;
import org.junit.jupiter.api.Test;

import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link StreamingGcm} against the real OpenSSL 3 (libcrypto via FFM, one EVP call per update, the same split)
 * and against a one-shot SunJCE cipher: random messages, random splits (0- and 1-byte updates, ragged sizes,
 * updates over one 64 KiB chunk), offsets, in place, both directions, tag rejection, the IV-reuse re-arm and
 * key changes.
 */
class StreamingGcmTest {

    private static final byte CANARY = (byte) 0xC3;
    private static final int[] FIXED_SIZES = {0, 1, 2, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 255, 256,
        257, 4095, 4096, 4097, 65535, 65536, 65537, 131071, 131073, 300 * 1024, 1 << 20, (1 << 20) + 1};

    // ------------------------------------------------------------------------------------------ helpers

    private static List<Integer> sizes(SplittableRandom random, int randomCount) {
        List<Integer> sizes = new ArrayList<>();
        for (int s : FIXED_SIZES) {
            sizes.add(s);
        }
        for (int i = 0; i < randomCount; i++) {
            int kind = random.nextInt(20);
            sizes.add(kind < 12 ? random.nextInt(101)
                    : kind < 17 ? random.nextInt(8193)
                    : random.nextInt(300 * 1024 + 1));
        }
        return sizes;
    }

    /** Update lengths summing to {@code size}, with 0-byte updates, 1-byte updates, ragged and large ones. */
    static int[] split(SplittableRandom random, int size) {
        int style = random.nextInt(5);
        if (style == 0) {
            return new int[] {size};
        }
        int[] lens = new int[16];
        int count = 0;
        for (int pos = 0; pos < size || (count == 0 && random.nextBoolean()); ) {
            int n;
            if (style == 1 && size <= 6000) {
                n = random.nextInt(4); // tiny: 0..3 bytes per update
            } else if (style == 2) {
                n = 16 * random.nextInt(1, 300) + (random.nextBoolean() ? 0 : random.nextInt(1, 16));
            } else {
                n = switch (random.nextInt(9)) {
                    case 0 -> 0;
                    case 1 -> 1;
                    case 2 -> random.nextInt(1, 16);
                    case 3 -> 16 * random.nextInt(1, 9);
                    case 4 -> random.nextInt(17, 120);
                    case 5 -> random.nextInt(5000);
                    case 6 -> 65536 + random.nextInt(-1, 2);
                    case 7 -> random.nextInt(200_000);
                    default -> 16 - random.nextInt(1, 16);
                };
            }
            n = Math.min(n, size - pos);
            if (count == lens.length) {
                lens = Arrays.copyOf(lens, count * 2);
            }
            lens[count++] = n;
            pos += n;
        }
        if (random.nextInt(4) == 0) {
            lens = Arrays.copyOf(lens, count + 1); // a trailing empty update
            lens[count++] = 0;
        }
        return Arrays.copyOf(lens, count);
    }

    private static byte[] randomBytes(SplittableRandom random, int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    private static byte[] sunJceOneShot(byte[] key, byte[] iv, byte[] msg) throws Exception {
        Cipher c = Cipher.getInstance("AES/GCM/NoPadding", "SunJCE");
        c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(128, iv));
        return c.doFinal(msg);
    }

    /**
     * Streams {@code input} through ours and OpenSSL's, update by update (same split), at random offsets, and
     * checks each update: OpenSSL wrote exactly {@code len} bytes, ours wrote the same bytes and nothing outside
     * its range. Returns our output; the tag (encrypt) or the verification result (decrypt) is checked by callers.
     */
    private static byte[] streamBoth(StreamingGcm ours, OpenSslGcm.Stream openssl, SplittableRandom random,
                                     byte[] input, int[] split, String what) {
        int size = input.length;
        int inOff = random.nextInt(40);
        int outOff = random.nextInt(40);
        byte[] in = new byte[inOff + size + 40];
        System.arraycopy(input, 0, in, inOff, size);
        byte[] out = new byte[outOff + size + 40];
        Arrays.fill(out, CANARY);
        byte[] expected = new byte[Math.max(1, size)];
        int pos = 0;
        for (int u = 0; u < split.length; u++) {
            int n = split[u];
            int written = openssl.update(in, inOff + pos, n, expected, pos);
            assertEquals(n, written, what + ": OpenSSL wrote " + written + " for an update of " + n);
            ours.update(in, inOff + pos, n, out, outOff + pos);
            if (!Arrays.equals(out, outOff + pos, outOff + pos + n, expected, pos, pos + n)) {
                throw new AssertionError(what + ": update " + u + " (" + n + " bytes at " + pos + ") differs");
            }
            int after = outOff + pos + n;
            for (int i = after; i < Math.min(out.length, after + 17); i++) {
                assertEquals(CANARY, out[i], what + ": update " + u + " wrote past its range");
            }
            pos += n;
        }
        assertEquals(size, pos);
        for (int i = 0; i < outOff; i++) {
            assertEquals(CANARY, out[i], what + ": wrote before the output offset");
        }
        return Arrays.copyOfRange(out, outOff, outOff + size);
    }

    // ------------------------------------------------------------------------------------------ encryption

    @Test
    void shouldWriteWhatOpenSslWritesForEveryUpdateWhenEncryptingRandomMessagesAndSplits() throws Exception {
        SplittableRandom random = new SplittableRandom(0x5EED_0001L);
        StreamingGcm gcm = new StreamingGcm();
        int messages = 0;
        for (int size : sizes(random, 400)) {
            byte[] key = randomBytes(random, 32);
            byte[] iv = randomBytes(random, 12);
            byte[] msg = randomBytes(random, size);
            int[] split = split(random, size);
            String what = "encrypt size " + size + " split " + split.length;
            gcm.begin(new SecretKeySpec(key, "AES"), iv, true);
            byte[] ct;
            byte[] expectedTag;
            try (OpenSslGcm.Stream openssl = new OpenSslGcm.Stream(key, iv, true)) {
                ct = streamBoth(gcm, openssl, random, msg, split, what);
                expectedTag = openssl.finishEncrypt();
            }
            byte[] tag = new byte[16];
            gcm.finishEncrypt(tag);
            assertArrayEquals(expectedTag, tag, what + ": tag");
            byte[] oneShot = sunJceOneShot(key, iv, msg);
            assertArrayEquals(oneShot, concat(ct, tag), what + ": differs from one-shot SunJCE");
            messages++;
        }
        assertTrue(messages > 400);
    }

    @Test
    void shouldMatchOpenSslForEverySizeUpTo80WhenUpdatingOneByteAtATime() throws Exception {
        SplittableRandom random = new SplittableRandom(80);
        StreamingGcm gcm = new StreamingGcm();
        byte[] key = randomBytes(random, 32);
        SecretKey spec = new SecretKeySpec(key, "AES");
        for (int size = 0; size <= 80; size++) {
            byte[] iv = randomBytes(random, 12);
            byte[] msg = randomBytes(random, size);
            int[] ones = new int[size];
            Arrays.fill(ones, 1);
            gcm.begin(spec, iv, true);
            byte[] ct;
            byte[] expectedTag;
            try (OpenSslGcm.Stream openssl = new OpenSslGcm.Stream(key, iv, true)) {
                ct = streamBoth(gcm, openssl, random, msg, ones, "1-byte encrypt " + size);
                expectedTag = openssl.finishEncrypt();
            }
            byte[] tag = new byte[16];
            gcm.finishEncrypt(tag);
            assertArrayEquals(expectedTag, tag, "1-byte encrypt " + size);

            gcm.begin(spec, iv, false);
            try (OpenSslGcm.Stream openssl = new OpenSslGcm.Stream(key, iv, false)) {
                byte[] back = streamBoth(gcm, openssl, random, ct, ones, "1-byte decrypt " + size);
                assertArrayEquals(msg, back);
                assertTrue(openssl.finishDecrypt(tag, 16));
            }
            assertTrue(gcm.finishDecrypt(tag, 16), "1-byte decrypt " + size);
        }
    }

    /** Update lengths around the 16-byte block, SunJCE's 512-byte PARALLEL_LEN, the 4 KiB stage and 64 KiB. */
    private static final int[] BOUNDARY_LENGTHS = {0, 1, 15, 16, 17, 496, 511, 512, 513, 1023, 1024, 1025, 3584,
        4095, 4096, 4097, 8191, 65535, 65536, 65537};

    @Test
    void shouldMatchOpenSslInBothDirectionsWhenUpdatesStraddleBlockStageAndChunkBoundaries() throws Exception {
        StreamingGcm gcm = new StreamingGcm();
        for (long seed = 0; seed < 60; seed++) {
            SplittableRandom random = new SplittableRandom(0xB0DA_0000L + seed);
            int updates = random.nextInt(1, 12);
            int[] split = new int[updates];
            int size = 0;
            for (int u = 0; u < updates; u++) {
                split[u] = BOUNDARY_LENGTHS[random.nextInt(BOUNDARY_LENGTHS.length)];
                size += split[u];
            }
            byte[] key = randomBytes(random, 32);
            byte[] iv = randomBytes(random, 12);
            byte[] msg = randomBytes(random, size);
            String what = "seed " + seed + " split " + Arrays.toString(split);
            SecretKey spec = new SecretKeySpec(key, "AES");
            gcm.begin(spec, iv, true);
            byte[] ct;
            byte[] tag = new byte[16];
            try (OpenSslGcm.Stream openssl = new OpenSslGcm.Stream(key, iv, true)) {
                ct = streamBoth(gcm, openssl, random, msg, split, what);
                gcm.finishEncrypt(tag);
                assertArrayEquals(openssl.finishEncrypt(), tag, what);
            }
            gcm.begin(spec, iv, false);
            try (OpenSslGcm.Stream openssl = new OpenSslGcm.Stream(key, iv, false)) {
                assertArrayEquals(msg, streamBoth(gcm, openssl, random, ct, split, what + " decrypt"));
                assertTrue(openssl.finishDecrypt(tag, 16), what);
            }
            assertTrue(gcm.finishDecrypt(tag, 16), what);
        }
    }

    @Test
    void shouldThrowRatherThanWriteWrongCiphertextWhenAKeyObjectChangesItsBytes() throws Exception {
        byte[] material = new byte[32];
        SecretKey mutable = new SecretKey() {
            @Override
            public String getAlgorithm() {
                return "AES";
            }

            @Override
            public String getFormat() {
                return "RAW";
            }

            @Override
            public byte[] getEncoded() {
                return material.clone();
            }
        };
        StreamingGcm gcm = new StreamingGcm();
        byte[] iv = new byte[12];
        gcm.begin(mutable, iv, true); // keys the ECB cipher with the current bytes
        gcm.update(new byte[100], 0, 100, new byte[100], 0);
        gcm.finishEncrypt(new byte[16]);
        material[0] = 1; // against the contract: the same object now means another key
        iv[0] = 1;
        gcm.begin(mutable, iv, true);
        gcm.update(new byte[100], 0, 100, new byte[100], 0); // staged: its ciphertext came from the stale key
        assertThrows(IllegalStateException.class, () -> gcm.finishEncrypt(new byte[16]));
    }

    // ------------------------------------------------------------------------------------------ decryption

    @Test
    void shouldWriteWhatOpenSslWritesForEveryUpdateWhenDecryptingRandomMessagesAndSplits() throws Exception {
        SplittableRandom random = new SplittableRandom(0x5EED_0002L);
        StreamingGcm gcm = new StreamingGcm();
        for (int size : sizes(random, 400)) {
            byte[] key = randomBytes(random, 32);
            byte[] iv = randomBytes(random, 12);
            byte[] msg = randomBytes(random, size);
            byte[] sealed = sunJceOneShot(key, iv, msg);
            byte[] ct = Arrays.copyOf(sealed, size);
            byte[] tag = Arrays.copyOfRange(sealed, size, size + 16);
            int[] split = split(random, size);
            String what = "decrypt size " + size + " split " + split.length;
            gcm.begin(new SecretKeySpec(key, "AES"), iv, false);
            try (OpenSslGcm.Stream openssl = new OpenSslGcm.Stream(key, iv, false)) {
                byte[] back = streamBoth(gcm, openssl, random, ct, split, what);
                assertArrayEquals(msg, back, what);
                assertTrue(openssl.finishDecrypt(tag, 16), what + ": OpenSSL rejected the tag");
            }
            assertTrue(gcm.finishDecrypt(tag, 16), what + ": rejected the right tag");
        }
    }

    @Test
    void shouldRejectLikeOpenSslWhenACiphertextOrTagBitIsFlipped() throws Exception {
        SplittableRandom random = new SplittableRandom(0x5EED_0003L);
        StreamingGcm gcm = new StreamingGcm();
        for (int round = 0; round < 120; round++) {
            int size = round < 100 ? random.nextInt(300) : random.nextInt(200_000);
            byte[] key = randomBytes(random, 32);
            byte[] iv = randomBytes(random, 12);
            byte[] sealed = sunJceOneShot(key, iv, randomBytes(random, size));
            byte[] ct = Arrays.copyOf(sealed, size);
            byte[] tag = Arrays.copyOfRange(sealed, size, size + 16);
            int tagLen = random.nextInt(4) == 0 ? random.nextInt(1, 17) : 16;
            boolean flipCiphertext = size > 0 && random.nextBoolean();
            if (flipCiphertext) {
                ct[random.nextInt(size)] ^= (byte) (1 << random.nextInt(8));
            } else {
                tag[random.nextInt(tagLen)] ^= (byte) (1 << random.nextInt(8));
            }
            int[] split = split(random, size);
            String what = "round " + round + " size " + size + " tagLen " + tagLen
                    + (flipCiphertext ? " ciphertext bit" : " tag bit");
            gcm.begin(new SecretKeySpec(key, "AES"), iv, false);
            try (OpenSslGcm.Stream openssl = new OpenSslGcm.Stream(key, iv, false)) {
                streamBoth(gcm, openssl, random, ct, split, what);
                assertFalse(openssl.finishDecrypt(tag, tagLen), what + ": OpenSSL accepted");
            }
            assertFalse(gcm.finishDecrypt(tag, tagLen), what + ": accepted");
        }
    }

    @Test
    void shouldCompareOnlyTheFirstTagLenBytesWhenTheTagIsTruncated() throws Exception {
        SplittableRandom random = new SplittableRandom(7);
        StreamingGcm gcm = new StreamingGcm();
        byte[] key = randomBytes(random, 32);
        byte[] iv = randomBytes(random, 12);
        byte[] msg = randomBytes(random, 333);
        byte[] sealed = sunJceOneShot(key, iv, msg);
        byte[] ct = Arrays.copyOf(sealed, 333);
        byte[] out = new byte[333];
        SecretKey spec = new SecretKeySpec(key, "AES");
        for (int tagLen = 1; tagLen <= 16; tagLen++) {
            byte[] tag = Arrays.copyOfRange(sealed, 333, 349);
            if (tagLen < 16) {
                tag[tagLen] ^= 1; // beyond the compared prefix: must not matter
            }
            gcm.begin(spec, iv, false);
            gcm.update(ct, 0, 333, out, 0);
            assertTrue(gcm.finishDecrypt(tag, tagLen), "tagLen " + tagLen);
            try (OpenSslGcm.Stream openssl = new OpenSslGcm.Stream(key, iv, false)) {
                openssl.update(ct, 0, 333, new byte[333], 0);
                assertTrue(openssl.finishDecrypt(tag, tagLen), "OpenSSL, tagLen " + tagLen);
            }
        }
        byte[] tag = Arrays.copyOfRange(sealed, 333, 349);
        for (int bad : new int[] {0, -1, 17}) {
            gcm.begin(spec, iv, false);
            gcm.update(ct, 0, 333, out, 0);
            assertFalse(gcm.finishDecrypt(tag, bad), "tagLen " + bad + " must be refused");
        }
        gcm.begin(spec, iv, false);
        gcm.update(ct, 0, 333, out, 0);
        assertFalse(gcm.finishDecrypt(new byte[8], 12), "a tag shorter than tagLen must be refused");
        assertArrayEquals(msg, out);
    }

    // ------------------------------------------------------------------------------------------ in place

    @Test
    void shouldEqualOneShotSunJceWhenEncryptingAndDecryptingExactlyInPlace() throws Exception {
        SplittableRandom random = new SplittableRandom(0x5EED_0004L);
        StreamingGcm gcm = new StreamingGcm();
        for (int size : sizes(random, 80)) {
            byte[] key = randomBytes(random, 32);
            byte[] iv = randomBytes(random, 12);
            byte[] msg = randomBytes(random, size);
            byte[] sealed = sunJceOneShot(key, iv, msg);
            SecretKey spec = new SecretKeySpec(key, "AES");
            int off = random.nextInt(33);
            byte[] buf = new byte[off + size + 33];
            System.arraycopy(msg, 0, buf, off, size);

            gcm.begin(spec, iv, true);
            runInPlace(gcm, buf, off, split(random, size));
            byte[] tag = new byte[16];
            gcm.finishEncrypt(tag);
            assertArrayEquals(sealed, concat(Arrays.copyOfRange(buf, off, off + size), tag), "encrypt " + size);

            gcm.begin(spec, iv, false); // same key object and IV: also exercises the re-arm
            runInPlace(gcm, buf, off, split(random, size));
            assertTrue(gcm.finishDecrypt(tag, 16), "decrypt " + size);
            assertArrayEquals(msg, Arrays.copyOfRange(buf, off, off + size), "decrypt " + size);
        }
    }

    private static void runInPlace(StreamingGcm gcm, byte[] buf, int off, int[] split) {
        int pos = 0;
        for (int n : split) {
            gcm.update(buf, off + pos, n, buf, off + pos);
            pos += n;
        }
    }

    // ------------------------------------------------------------------------------------------ re-arm, keys

    @Test
    void shouldReArmWhenConsecutiveMessagesShareKeyAndIv() throws Exception {
        SplittableRandom random = new SplittableRandom(11);
        byte[] keyBytes = randomBytes(random, 32);
        byte[] iv = randomBytes(random, 12);
        byte[] msg = randomBytes(random, 1000);
        byte[] sealed = OpenSslGcm.encrypt(keyBytes, iv, null, msg);
        StreamingGcm gcm = new StreamingGcm();
        try (GcmKey gcmKey = GcmKey.copyOf(keyBytes)) {
            SecretKey spec = new SecretKeySpec(keyBytes, "AES");
            SecretKey[] keys = {spec, spec, gcmKey.asJdkKey(), gcmKey.asJdkKey(), spec,
                new SecretKeySpec(keyBytes, "AES"), new SecretKeySpec(keyBytes, "AES")};
            boolean[] directions = {true, true, false, true, true, true, false};
            for (int m = 0; m < 3 * keys.length; m++) {
                SecretKey key = keys[m % keys.length];
                boolean encrypt = directions[m % keys.length] || m % 3 == 0;
                String what = "message " + m + (encrypt ? " encrypt" : " decrypt");
                gcm.begin(key, iv, encrypt);
                byte[] out = new byte[1000];
                if (encrypt) {
                    gcm.update(msg, 0, 13, out, 0);
                    gcm.update(msg, 13, 987, out, 13);
                    byte[] tag = new byte[16];
                    gcm.finishEncrypt(tag);
                    assertArrayEquals(sealed, concat(out, tag), what);
                } else {
                    gcm.update(sealed, 0, 999, out, 0);
                    gcm.update(sealed, 999, 1, out, 999);
                    assertTrue(gcm.finishDecrypt(Arrays.copyOfRange(sealed, 1000, 1016), 16), what);
                    assertArrayEquals(msg, out, what);
                }
            }
        }
    }

    @Test
    void shouldFollowKeyChangesBetweenMessages() throws Exception {
        SplittableRandom random = new SplittableRandom(12);
        byte[][] keyBytes = {randomBytes(random, 32), randomBytes(random, 32), randomBytes(random, 32)};
        SecretKey[] keys = new SecretKey[keyBytes.length];
        for (int k = 0; k < keys.length; k++) {
            keys[k] = new SecretKeySpec(keyBytes[k], "AES");
        }
        byte[] iv = randomBytes(random, 12); // the same IV under different keys
        StreamingGcm gcm = new StreamingGcm();
        for (int m = 0; m < 60; m++) {
            int k = random.nextInt(keys.length);
            int size = random.nextInt(3000);
            byte[] msg = randomBytes(random, size);
            int[] split = split(random, size);
            gcm.begin(keys[k], iv, true);
            try (OpenSslGcm.Stream openssl = new OpenSslGcm.Stream(keyBytes[k], iv, true)) {
                streamBoth(gcm, openssl, random, msg, split, "message " + m + " key " + k);
                byte[] tag = new byte[16];
                gcm.finishEncrypt(tag);
                assertArrayEquals(openssl.finishEncrypt(), tag, "message " + m + " key " + k);
            }
        }
    }

    // ------------------------------------------------------------------------------------------ lifecycle

    @Test
    void shouldRefuseUpdatesAndFinishesOutsideAMessage() throws Exception {
        StreamingGcm gcm = new StreamingGcm();
        byte[] buf = new byte[32];
        assertThrows(IllegalStateException.class, () -> gcm.update(buf, 0, 16, buf, 16));
        assertThrows(IllegalStateException.class, () -> gcm.finishEncrypt(new byte[16]));
        assertThrows(IllegalStateException.class, () -> gcm.finishDecrypt(new byte[16], 16));
        SecretKey key = new SecretKeySpec(new byte[32], "AES");
        gcm.begin(key, new byte[12], true);
        assertThrows(IllegalStateException.class, () -> gcm.finishDecrypt(new byte[16], 16));
        gcm.begin(key, new byte[12], false);
        assertThrows(IllegalStateException.class, () -> gcm.finishEncrypt(new byte[16]));
        assertTrue(gcm.finishDecrypt(sunJceTag(new byte[32], new byte[12]), 16));
        assertThrows(IllegalStateException.class, () -> gcm.update(buf, 0, 1, buf, 1), "after finish");
        assertThrows(IllegalArgumentException.class, () -> gcm.begin(key, new byte[16], true));
        gcm.begin(key, new byte[12], true);
        assertThrows(IndexOutOfBoundsException.class, () -> gcm.update(buf, 20, 16, buf, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> gcm.update(buf, 0, 16, buf, 20));
        assertThrows(IndexOutOfBoundsException.class, () -> gcm.update(buf, 0, -1, buf, 0));
    }

    private static byte[] sunJceTag(byte[] key, byte[] iv) throws Exception {
        return sunJceOneShot(key, iv, new byte[0]);
    }

    @Test
    void shouldStayUsableAfterADestroyedKeyAnAbandonedMessageAndAWipe() throws Exception {
        SplittableRandom random = new SplittableRandom(13);
        byte[] keyBytes = randomBytes(random, 32);
        byte[] iv = randomBytes(random, 12);
        byte[] msg = randomBytes(random, 777);
        byte[] sealed = OpenSslGcm.encrypt(keyBytes, iv, null, msg);
        StreamingGcm gcm = new StreamingGcm();
        GcmKey destroyed = GcmKey.copyOf(keyBytes);
        gcm.begin(destroyed.asJdkKey(), iv, true); // key object now cached by the ECB cipher
        gcm.update(msg, 0, 5, new byte[5], 0); // abandoned
        destroyed.close();
        assertThrows(IllegalArgumentException.class, () -> gcm.begin(destroyed.asJdkKey(), iv, true));
        assertThrows(IllegalStateException.class, () -> gcm.update(msg, 0, 1, new byte[1], 0));
        SecretKey key = new SecretKeySpec(keyBytes, "AES");
        for (int round = 0; round < 3; round++) {
            gcm.begin(key, iv, true);
            gcm.update(msg, 0, 100, new byte[100], 0); // abandoned half-way
            gcm.begin(key, iv, true);
            byte[] ct = new byte[777];
            gcm.update(msg, 0, 3, ct, 0);
            gcm.update(msg, 3, 774, ct, 3);
            byte[] tag = new byte[16];
            gcm.finishEncrypt(tag);
            assertArrayEquals(sealed, concat(ct, tag), "round " + round);
            gcm.wipe();
        }
        gcm.begin(key, iv, false);
        byte[] back = new byte[777];
        gcm.update(sealed, 0, 777, back, 0);
        assertTrue(gcm.finishDecrypt(Arrays.copyOfRange(sealed, 777, 793), 16));
        assertArrayEquals(msg, back);
    }

    @Test
    void shouldRunItsWarmUpAndThenPassItsSelfTest() {
        JdkGcmEngine.WarmUpReport report = StreamingGcm.warmUp(2_000_000_000L);
        System.out.printf("StreamingGcm.warmUp: %d messages in %d ms, %.2f GB/s, fast=%s%n", report.messages(),
                report.nanos() / 1_000_000, report.lastGbps(), report.reachedFastPath());
        assertTrue(report.messages() > 0);
        long t0 = System.nanoTime();
        assertEquals(null, GcmSelfTest.runStreaming(StreamingGcm::create));
        System.out.printf("GcmSelfTest.runStreaming after the warm-up: %d ms%n", (System.nanoTime() - t0) / 1_000_000);
    }

    @Test
    void shouldPassItsOwnSelfTest() {
        assertEquals(null, GcmSelfTest.runStreaming(StreamingGcm::create));
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
