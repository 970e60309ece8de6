package dev.pipellm.crypto.gcm;

import dev.pipellm.crypto.key.GcmKey;
import dev.pipellm.crypto.testsupport.BcJavaReference;
import dev.pipellm.crypto.testsupport.Engines;
import dev.pipellm.crypto.testsupport.MiniJson;
import dev.pipellm.crypto.testsupport.SharedData;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** All 316 Wycheproof AES-GCM vectors through every engine and the pure-Java BC reference. */
class WycheproofAesGcmTest {

    record Vector(long id, int keyBits, int ivBits, byte[] key, byte[] iv, byte[] aad, byte[] msg, byte[] ct,
                  byte[] tag, boolean valid, String flags) {
        String label() {
            return "tc" + id + " (" + keyBits + "-bit key, " + ivBits + "-bit IV, " + flags + ")";
        }
    }

    private static List<Vector> vectors;

    @BeforeAll
    @SuppressWarnings("unchecked")
    static void load() throws IOException {
        var file = SharedData.file("data/wycheproof/aes_gcm_test.json");
        Map<String, Object> root = (Map<String, Object>) MiniJson.parse(Files.readString(file));
        HexFormat hex = HexFormat.of();
        vectors = new ArrayList<>();
        for (Object g : (List<Object>) root.get("testGroups")) {
            Map<String, Object> group = (Map<String, Object>) g;
            for (Object t : (List<Object>) group.get("tests")) {
                Map<String, Object> test = (Map<String, Object>) t;
                String result = (String) test.get("result");
                assertTrue(result.equals("valid") || result.equals("invalid"), "unexpected result " + result);
                vectors.add(new Vector(((Number) test.get("tcId")).longValue(), ((Number) group.get("keySize")).intValue(),
                        ((Number) group.get("ivSize")).intValue(),
                        hex.parseHex((String) test.get("key")), hex.parseHex((String) test.get("iv")),
                        hex.parseHex((String) test.get("aad")), hex.parseHex((String) test.get("msg")),
                        hex.parseHex((String) test.get("ct")), hex.parseHex((String) test.get("tag")),
                        result.equals("valid"), String.valueOf(test.get("flags"))));
            }
        }
        assertEquals(((Number) root.get("numberOfTests")).intValue(), vectors.size());
        assertEquals(316, vectors.size());
    }

    @Test
    void shouldMatchEveryVectorWhenReferenceIsPureJavaBouncyCastle() {
        for (Vector v : vectors) {
            byte[] sealed = concat(v.ct(), v.tag());
            byte[] plain = BcJavaReference.decrypt(v.key(), v.iv(), v.aad(), sealed);
            if (v.valid()) {
                assertTrue(Arrays.equals(v.msg(), plain), v.label());
                assertTrue(Arrays.equals(sealed, BcJavaReference.encrypt(v.key(), v.iv(), v.aad(), v.msg())), v.label());
            } else {
                assertEquals(null, plain, v.label() + " must be rejected");
            }
        }
    }

    @Test
    void shouldMatchOrRefuseEveryVectorWhenRunThroughJdkEngine() {
        runAll(Engines.jdk());
    }

    @Test
    void shouldMatchOrRefuseEveryVectorWhenRunThroughBcLtsEngine() {
        runAll(Engines.bcLts());
    }

    private static void runAll(GcmEngine engine) {
        int matched = 0;
        int rejected = 0;
        int refused = 0;
        try (Arena arena = Arena.ofConfined()) {
            for (Vector v : vectors) {
                try (GcmKey key = GcmKey.copyOf(v.key())) {
                    byte[] aad = v.aad().length == 0 ? null : v.aad();
                    int n = v.msg().length;
                    byte[] out = new byte[n];
                    byte[] tag = new byte[16];
                    int enc = engine.encrypt(key, v.iv(), aad, v.msg(), 0, n, out, 0, tag, 0);
                    byte[] back = new byte[v.ct().length];
                    int dec = engine.decrypt(key, v.iv(), aad, v.ct(), 0, v.ct().length, back, 0, v.tag(), 0);
                    MemorySegment segCt = arena.allocate(Math.max(1, v.ct().length)).asSlice(0, v.ct().length);
                    MemorySegment segOut = arena.allocate(Math.max(1, v.ct().length)).asSlice(0, v.ct().length);
                    MemorySegment segTag = arena.allocate(16);
                    MemorySegment.copy(v.ct(), 0, segCt, ValueLayout.JAVA_BYTE, 0, v.ct().length);
                    MemorySegment.copy(v.tag(), 0, segTag, ValueLayout.JAVA_BYTE, 0, 16);
                    int segDec = engine.decrypt(key, v.iv(), aad, segCt, segOut, segTag);
                    if (v.ivBits() != 96) {
                        // Only 96-bit IVs are supported: refused before anything is computed.
                        assertEquals(GcmEngine.UNSUPPORTED_IV_LENGTH, enc, v.label());
                        assertEquals(GcmEngine.UNSUPPORTED_IV_LENGTH, dec, v.label());
                        assertEquals(GcmEngine.UNSUPPORTED_IV_LENGTH, segDec, v.label());
                        assertTrue(Arrays.equals(new byte[n], out), v.label() + ": output touched");
                        refused++;
                    } else if (v.valid()) {
                        assertEquals(GcmEngine.OK, enc, v.label());
                        assertTrue(Arrays.equals(v.ct(), out) && Arrays.equals(v.tag(), tag), v.label());
                        assertEquals(GcmEngine.OK, dec, v.label());
                        assertTrue(Arrays.equals(v.msg(), back), v.label());
                        assertEquals(GcmEngine.OK, segDec, v.label());
                        assertTrue(Arrays.equals(v.msg(), segOut.toArray(ValueLayout.JAVA_BYTE)), v.label());
                        matched++;
                    } else {
                        assertEquals(GcmEngine.TAG_MISMATCH, dec, v.label());
                        assertEquals(GcmEngine.TAG_MISMATCH, segDec, v.label());
                        assertTrue(Arrays.equals(new byte[back.length], back), v.label() + ": plaintext released");
                        rejected++;
                    }
                }
            }
        }
        assertEquals(316, matched + rejected + refused);
        assertEquals(0, engine.failureCount(), engine.name() + " reported library failures");
        System.out.printf("%s: %d valid matched, %d invalid rejected, %d refused (IV not 96 bits)%n",
                engine.name(), matched, rejected, refused);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
