package dev.pipellm.agent.config;

/** A bad option; the message is one complete line that names the key and the accepted values. */
public final class ConfigException extends Exception {
    private final String key;

    public ConfigException(String key, String message) {
        super(message, null, false, false);
        this.key = key;
    }

    /** The option key that was refused ({@code mode}, {@code workers}, ...). */
    public String key() {
        return key;
    }
}
