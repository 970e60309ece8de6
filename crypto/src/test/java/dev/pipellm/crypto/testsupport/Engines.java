package dev.pipellm.crypto.testsupport;

import dev.pipellm.crypto.gcm.BcLtsGcmEngine;
import dev.pipellm.crypto.gcm.GcmEngine;
import dev.pipellm.crypto.gcm.JdkGcmEngine;

import java.util.List;

import static org.junit.jupiter.api.Assertions.fail;

/** The production engines under test, shared per JVM (loading BC-LTS extracts a native library). */
public final class Engines {
    private static JdkGcmEngine jdk;
    private static BcLtsGcmEngine bcLts;

    private Engines() {
    }

    public static synchronized JdkGcmEngine jdk() {
        if (jdk == null) {
            jdk = new JdkGcmEngine();
        }
        return jdk;
    }

    /** BC-LTS must load natively on the development and CI machines (linux-x86_64); anything else fails. */
    public static synchronized BcLtsGcmEngine bcLts() {
        if (bcLts == null) {
            BcLtsGcmEngine.LoadOutcome outcome = BcLtsGcmEngine.load(BcLtsGcmEngine.configuredJar());
            if (outcome.engine() == null) {
                fail("BC-LTS native engine expected on this machine: " + outcome.report());
            }
            bcLts = outcome.engine();
        }
        return bcLts;
    }

    public static List<GcmEngine> all() {
        return List.of(jdk(), bcLts());
    }
}
