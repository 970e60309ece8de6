package dev.pipellm.speculator.trace;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Locates the read-only shared data directory (../shared beside the checkout). Order: an explicit path (tool
 * option), the system property {@value #PROPERTY}, the environment variable {@value #ENV}. Missing data is an
 * error with a message naming all three and the path tried: a benchmark that silently skips is worse than none.
 */
public final class SharedData {
    public static final String PROPERTY = "pipellm.shared.dir";
    public static final String ENV = "PIPELLM_SHARED_DIR";
    public static final String AZURE_DIR = "data/azure-llm-2023";
    public static final String AZURE_CONV = "AzureLLMInferenceTrace_conv.csv";
    public static final String AZURE_CODE = "AzureLLMInferenceTrace_code.csv";

    private SharedData() {
    }

    /**
     * The shared directory.
     *
     * @param explicit a path given on a command line, or null
     * @throws IllegalStateException when none is configured or the directory does not exist
     */
    public static Path resolve(String explicit) {
        String source;
        String value;
        if (explicit != null && !explicit.isBlank()) {
            source = "option --shared";
            value = explicit;
        } else if (System.getProperty(PROPERTY) != null && !System.getProperty(PROPERTY).isBlank()) {
            source = "system property " + PROPERTY;
            value = System.getProperty(PROPERTY);
        } else if (System.getenv(ENV) != null && !System.getenv(ENV).isBlank()) {
            source = "environment variable " + ENV;
            value = System.getenv(ENV);
        } else {
            throw new IllegalStateException("shared data directory not configured: pass --shared DIR, set -D"
                    + PROPERTY + "=DIR or export " + ENV + "=DIR (it holds " + AZURE_DIR + "/)");
        }
        final Path dir = Path.of(value).toAbsolutePath().normalize();
        if (!Files.isDirectory(dir)) {
            throw new IllegalStateException("shared data directory from " + source + " does not exist: " + dir
                    + " (set --shared DIR, -D" + PROPERTY + "=DIR or " + ENV + "=DIR)");
        }
        return dir;
    }

    /** A file of the Azure 2023 trace, checked to exist. */
    public static Path azureTrace(String explicit, String fileName) {
        final Path dir = resolve(explicit);
        final Path file = dir.resolve(AZURE_DIR).resolve(fileName);
        if (!Files.isRegularFile(file)) {
            throw new IllegalStateException("Azure LLM trace not found: " + file + " (shared directory " + dir
                    + " from --shared, -D" + PROPERTY + " or " + ENV + ")");
        }
        return file;
    }
}
