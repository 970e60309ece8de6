package dev.pipellm.crypto.gcm;

import dev.pipellm.crypto.testsupport.CorruptingEngine;
import dev.pipellm.crypto.key.GcmKey;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GcmEngineSelectorTest {

    @Test
    void shouldSelectJdkEngineWhenPreferenceIsDefault() {
        var selection = GcmEngineSelector.select(GcmEngineSelector.Preference.JDK, null, 200_000_000L);
        assertInstanceOf(JdkGcmEngine.class, selection.engine());
        assertTrue(selection.report().getFirst().contains("self-test passed"), selection.report().toString());
        selection.engine().close();
    }

    @Test
    void shouldSelectNativeBcLtsWhenPreferredAndJarIsPresent() {
        var selection = GcmEngineSelector.select(GcmEngineSelector.Preference.BC_LTS_THEN_JDK,
                BcLtsGcmEngine.configuredJar(), 0);
        assertInstanceOf(BcLtsGcmEngine.class, selection.engine(), selection.report().toString());
        assertTrue(selection.report().getFirst().contains("selected"));
        selection.engine().close();
    }

    @Test
    void shouldFallBackToJdkWithReasonWhenBcLtsJarIsMissing() {
        Path missing = Path.of("target/does-not-exist/bcprov-lts8on.jar");
        var selection = GcmEngineSelector.select(GcmEngineSelector.Preference.BC_LTS_THEN_JDK, missing, 0);
        assertInstanceOf(JdkGcmEngine.class, selection.engine());
        String first = selection.report().getFirst();
        assertTrue(first.contains("refused") && first.contains(missing.toAbsolutePath().toString())
                && first.contains(BcLtsGcmEngine.JAR_PROPERTY), first);
        selection.engine().close();
    }

    @Test
    void shouldRefuseBcJarWhenItHasNoNativeServices() throws Exception {
        // bcprov-jdk18on (pure Java, on the test class path) stands in for a relocated or non-LTS jar.
        Path pureJava = Path.of(org.bouncycastle.crypto.modes.GCMBlockCipher.class.getProtectionDomain()
                .getCodeSource().getLocation().toURI());
        var outcome = BcLtsGcmEngine.load(pureJava);
        assertNull(outcome.engine());
        assertTrue(outcome.report().startsWith("bc-lts refused"), outcome.report());
    }

    @Test
    void shouldRefuseBcLtsWhenItWouldRunPureJava() {
        String property = "org.bouncycastle.native.cpu_variant";
        String previous = System.getProperty(property);
        System.setProperty(property, "java");
        try {
            var outcome = BcLtsGcmEngine.load(BcLtsGcmEngine.configuredJar());
            assertNull(outcome.engine(), outcome.report());
            assertTrue(outcome.report().contains("not active") || outcome.report().contains("not the native"),
                    outcome.report());
        } finally {
            if (previous == null) {
                System.clearProperty(property);
            } else {
                System.setProperty(property, previous);
            }
        }
    }

    @Test
    void shouldNeverSelectEngineThatFailsSelfTest() {
        GcmEngine broken = new CorruptingEngine(new JdkGcmEngine(), size -> size >= 65536, false, true);
        var selection = GcmEngineSelector.select(List.of(
                new GcmEngineSelector.Candidate("broken", () -> broken),
                new GcmEngineSelector.Candidate("jdk-sunjce", JdkGcmEngine::new)), 0);
        assertInstanceOf(JdkGcmEngine.class, selection.engine());
        assertTrue(selection.report().getFirst().contains("self-test FAILED"), selection.report().toString());
        assertEquals(GcmEngine.ENGINE_CLOSED, broken.encrypt(GcmKey.copyOf(new byte[32]), new byte[12], null,
                new byte[1], 0, 1, new byte[1], 0, new byte[16], 0));
        selection.engine().close();
    }

    @Test
    void shouldThrowWhenNoCandidatePasses() {
        assertThrows(IllegalStateException.class, () -> GcmEngineSelector.select(List.of(
                new GcmEngineSelector.Candidate("broken", () -> new CorruptingEngine(new JdkGcmEngine(), size -> size >= 65536, false, true))), 0));
    }

    /** Flips one ciphertext bit of messages of 64 KiB or more: only the large cross-check can catch it. */
}
