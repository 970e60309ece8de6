package dev.pipellm.speculator.trace;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SharedDataTest {
    private static List<SharedData.Setting> settings(String option, String env, String dflt) {
        return List.of(new SharedData.Setting("option --shared", option),
                new SharedData.Setting("environment variable " + SharedData.ENV, env),
                new SharedData.Setting("the default ../shared beside the checkout", dflt));
    }

    @Test
    void shouldTakeTheFirstSettingThatIsSetAndNameIt(@TempDir Path tmp) {
        final SharedData.Location l = SharedData.locate(settings(null, " ", tmp.toString()));
        assertEquals(tmp.toAbsolutePath().normalize(), l.dir());
        assertEquals("the default ../shared beside the checkout", l.source());
    }

    @Test
    void shouldNameTheEnvironmentVariableWhenItPointsNowhere(@TempDir Path tmp) {
        final Path missing = tmp.resolve("gone");
        final IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> SharedData.locate(settings(null, missing.toString(), tmp.toString())));
        assertTrue(e.getMessage().startsWith("shared data directory from environment variable PIPELLM_SHARED_DIR"
                + " does not exist: " + missing), e.getMessage());
    }

    @Test
    void shouldNameTheDefaultWhenItIsMissing(@TempDir Path tmp) {
        final IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> SharedData.locate(settings(null, null, tmp.resolve("shared").toString())));
        assertTrue(e.getMessage().contains("from the default ../shared beside the checkout does not exist"),
                e.getMessage());
        assertTrue(e.getMessage().contains("--shared DIR") && e.getMessage().contains(SharedData.ENV),
                e.getMessage());
    }

    @Test
    void shouldSayHowToSetItWhenNothingIsSet() {
        final IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> SharedData.locate(settings(null, null, null)));
        assertTrue(e.getMessage().startsWith("shared data directory not configured"), e.getMessage());
        assertTrue(e.getMessage().contains(SharedData.PROPERTY), e.getMessage());
    }
}
