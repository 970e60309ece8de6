package dev.pipellm.speculator.trace;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Locates the read-only shared data directory (../shared beside the checkout). Order: an explicit path (tool
 * option), the system property {@value #PROPERTY}, the environment variable {@value #ENV}, then the default
 * that a launcher passes as the system property {@value #DEFAULT_PROPERTY} (./pipellm: ../shared beside the
 * checkout). Missing data is an error with a message naming where the path came from, the path and the ways
 * to set it: a benchmark that silently skips is worse than none.
 */
public final class SharedData {
    public static final String PROPERTY = "pipellm.shared.dir";
    public static final String ENV = "PIPELLM_SHARED_DIR";
    /** The directory used when none of the settings is given, and reported as the default. */
    public static final String DEFAULT_PROPERTY = "pipellm.shared.default";
    public static final String AZURE_DIR = "data/azure-llm-2023";
    public static final String AZURE_CONV = "AzureLLMInferenceTrace_conv.csv";
    public static final String AZURE_CODE = "AzureLLMInferenceTrace_code.csv";
    private static final String HOW_TO_SET = "--shared DIR, -D" + PROPERTY + "=DIR or " + ENV + "=DIR";

    /** Where the shared directory was configured: {@code source} names the setting, for messages. */
    public record Setting(String source, String value) {
        boolean isSet() {
            return value != null && !value.isBlank();
        }
    }

    /** The shared directory and the setting it came from. */
    public record Location(Path dir, String source) {
    }

    private SharedData() {
    }

    /**
     * The shared directory.
     *
     * @param explicit a path given on a command line, or null
     * @throws IllegalStateException when none is configured or the directory does not exist
     */
    public static Path resolve(String explicit) {
        return locate(explicit).dir();
    }

    /** The shared directory and where it came from, from the settings of this process (see the class doc). */
    public static Location locate(String explicit) {
        return locate(List.of(new Setting("option --shared", explicit),
                new Setting("system property " + PROPERTY, System.getProperty(PROPERTY)),
                new Setting("environment variable " + ENV, System.getenv(ENV)),
                new Setting("the default ../shared beside the checkout", System.getProperty(DEFAULT_PROPERTY))));
    }

    /**
     * The first of {@code settings} that is set, checked to be a directory.
     *
     * @throws IllegalStateException when none is set or that directory does not exist
     */
    public static Location locate(List<Setting> settings) {
        for (Setting s : settings) {
            if (s.isSet()) {
                final Path dir = Path.of(s.value()).toAbsolutePath().normalize();
                if (!Files.isDirectory(dir)) {
                    throw new IllegalStateException("shared data directory from " + s.source()
                            + " does not exist: " + dir + " (set it with " + HOW_TO_SET + ")");
                }
                return new Location(dir, s.source());
            }
        }
        throw new IllegalStateException("shared data directory not configured: set it with " + HOW_TO_SET
                + " (it holds " + AZURE_DIR + "/)");
    }

    /** A file of the Azure 2023 trace, checked to exist. */
    public static Path azureTrace(String explicit, String fileName) {
        final Location shared = locate(explicit);
        final Path file = shared.dir().resolve(AZURE_DIR).resolve(fileName);
        if (!Files.isRegularFile(file)) {
            throw new IllegalStateException("Azure LLM trace not found: " + file + " (shared directory "
                    + shared.dir() + " from " + shared.source() + ")");
        }
        return file;
    }
}
