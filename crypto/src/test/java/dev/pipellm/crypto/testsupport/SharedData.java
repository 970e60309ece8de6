package dev.pipellm.crypto.testsupport;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.fail;

/** Locates ../shared: system property {@value #PROPERTY}, else env {@value #ENV}. Missing data fails, never skips. */
public final class SharedData {
    public static final String PROPERTY = "pipellm.shared.dir";
    public static final String ENV = "PIPELLM_SHARED_DIR";

    private SharedData() {
    }

    /** The file at {@code relative} under the shared directory; fails the test if it is not there. */
    public static Path file(String relative) {
        String dir = System.getProperty(PROPERTY);
        String source = "system property " + PROPERTY;
        if (dir == null || dir.isBlank()) {
            dir = System.getenv(ENV);
            source = "environment variable " + ENV;
        }
        if (dir == null || dir.isBlank()) {
            return fail("shared data directory not configured: set system property " + PROPERTY
                    + " or environment variable " + ENV + " (needed for " + relative + ")");
        }
        Path path = Path.of(dir).resolve(relative);
        if (!Files.isRegularFile(path)) {
            return fail("shared data file missing: " + path.toAbsolutePath() + " (from " + source + "=" + dir + ")");
        }
        return path;
    }
}
