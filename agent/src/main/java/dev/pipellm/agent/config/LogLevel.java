package dev.pipellm.agent.config;

/** {@code log=} levels, most quiet first (same names as the shim's). */
public enum LogLevel {
    OFF, ERROR, WARN, INFO, DEBUG;

    public String key() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** True when a message at {@code level} is printed at this setting. */
    public boolean allows(LogLevel level) {
        return level != OFF && level.ordinal() <= ordinal();
    }
}
