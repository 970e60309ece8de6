package dev.pipellm.crypto.gcm;

import dev.pipellm.crypto.testsupport.CorruptingEngine;
import dev.pipellm.crypto.testsupport.Engines;
import dev.pipellm.crypto.testsupport.OpenSslGcm;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.security.MessageDigest;
import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The self-test's size known answers are OpenSSL's, and its checks catch what they are meant to catch. */
class GcmSelfTestTest {

    @Test
    void shouldHoldOpenSslsAnswerForEverySizeKnownAnswer() throws Exception {
        byte[] key = GcmSelfTest.sizeKatKey();
        byte[] iv = GcmSelfTest.sizeKatIv();
        byte[] plain = GcmSelfTest.sizeKatPlaintext(GcmSelfTest.sizeKatMaxSize());
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment nativePlain = arena.allocate(plain.length);
            MemorySegment.copy(plain, 0, nativePlain, ValueLayout.JAVA_BYTE, 0, plain.length);
            for (GcmSelfTest.SizeKat kat : GcmSelfTest.SIZE_KATS) {
                byte[] sealed = OpenSslGcm.encrypt(key, iv, null, nativePlain.asSlice(0, kat.size()));
                assertEquals(kat.sha256(), HexFormat.of().formatHex(sha.digest(sealed)), "size " + kat.size());
            }
        }
    }

    @Test
    void shouldCoverEverySizeUpTo80AndEachPowerOfTwoBoundary() {
        int previous = -1;
        for (GcmSelfTest.SizeKat kat : GcmSelfTest.SIZE_KATS) {
            assertTrue(kat.size() > previous, "sizes ascending and unique: " + kat.size());
            previous = kat.size();
        }
        java.util.Set<Integer> sizes = new java.util.HashSet<>();
        GcmSelfTest.SIZE_KATS.forEach(k -> sizes.add(k.size()));
        for (int s = 0; s <= 80; s++) {
            assertTrue(sizes.contains(s), "size " + s);
        }
        for (int p = 128; p <= 1 << 20; p <<= 1) {
            assertTrue(sizes.contains(p - 1) && sizes.contains(p) && sizes.contains(p + 1), "around " + p);
        }
        assertTrue(sizes.contains((2 << 20) + 1));
    }

    @Test
    void shouldPassForTheProductionEnginesAndStreamingGcm() {
        for (GcmEngine engine : Engines.all()) {
            long t0 = System.nanoTime();
            assertNull(GcmSelfTest.run(engine), engine.name());
            System.out.printf("GcmSelfTest.run(%s): %d ms%n", engine.name(), (System.nanoTime() - t0) / 1_000_000);
        }
        long t0 = System.nanoTime();
        assertNull(GcmSelfTest.runStreaming(StreamingGcm::create));
        System.out.printf("GcmSelfTest.runStreaming: %d ms%n", (System.nanoTime() - t0) / 1_000_000);
    }

    @Test
    void shouldNameTheSizeWhenAnEngineCorruptsOneHeapSize() {
        String failure = GcmSelfTest.run(new CorruptingEngine(Engines.jdk(), size -> size == 4097, false, false));
        assertNotNull(failure);
        assertTrue(failure.contains("size-kat") && failure.contains("heap encrypt of 4097 bytes"), failure);
    }

    @Test
    void shouldNameTheSizeWhenAnEngineCorruptsOneSegmentSize() {
        String failure = GcmSelfTest.run(new CorruptingEngine(Engines.jdk(), size -> size == 37, true, false));
        assertNotNull(failure);
        assertTrue(failure.contains("size-kat") && failure.contains("segment encrypt of 37 bytes"), failure);
    }

    @Test
    void shouldReportAFailureWhenTheStreamingFactoryFails() {
        assertTrue(GcmSelfTest.runStreaming(() -> null).contains("null"));
        String failure = GcmSelfTest.runStreaming(() -> {
            throw new IllegalStateException("no ciphers");
        });
        assertTrue(failure.contains("no ciphers"), failure);
    }

    @Test
    void shouldFailOnDemandWhenTheTestOnlyPropertyIsSet() {
        String previous = System.getProperty(GcmSelfTest.FORCE_FAIL_PROPERTY);
        GcmEngine engine = Engines.jdk();
        try {
            System.setProperty(GcmSelfTest.FORCE_FAIL_PROPERTY, "1");
            assertTrue(GcmSelfTest.run(engine).contains("forced failure"));
            assertTrue(GcmSelfTest.runStreaming(StreamingGcm::create).contains("forced failure"));
            System.setProperty(GcmSelfTest.FORCE_FAIL_PROPERTY, "engine");
            assertTrue(GcmSelfTest.run(engine).contains("forced failure"));
            assertNull(GcmSelfTest.runStreaming(StreamingGcm::create));
            System.setProperty(GcmSelfTest.FORCE_FAIL_PROPERTY, "streaming");
            assertNull(GcmSelfTest.run(engine));
            assertTrue(GcmSelfTest.runStreaming(StreamingGcm::create).contains("forced failure"));
            System.setProperty(GcmSelfTest.FORCE_FAIL_PROPERTY, "0");
            assertNull(GcmSelfTest.run(engine));
        } finally {
            if (previous == null) {
                System.clearProperty(GcmSelfTest.FORCE_FAIL_PROPERTY);
            } else {
                System.setProperty(GcmSelfTest.FORCE_FAIL_PROPERTY, previous);
            }
        }
    }
}
