package dev.pipellm.agent.log;

import dev.pipellm.agent.config.LogLevel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's logger ("pipellm"), backed by slf4j-simple on stderr. In the agent jar both are shaded
 * and relocated to {@code dev.pipellm.agent.shaded.org.slf4j}; the shade plugin relocates the
 * {@code org.slf4j.simpleLogger.*} property names below too, so these settings never reach a host's own
 * SLF4J. Lifecycle and faults only: the hot path never logs.
 */
public final class AgentLog {
    public static final String LOGGER_NAME = "pipellm";

    private AgentLog() {}

    /** Must run before the first {@link #logger()} call (slf4j-simple reads its settings once). */
    public static void configure(LogLevel level) {
        setIfAbsent("org.slf4j.simpleLogger.log." + LOGGER_NAME, level.key());
        setIfAbsent("org.slf4j.simpleLogger.showThreadName", "false");
        setIfAbsent("org.slf4j.simpleLogger.showLogName", "false");
        setIfAbsent("org.slf4j.simpleLogger.levelInBrackets", "true");
        setIfAbsent("org.slf4j.simpleLogger.logFile", "System.err");
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) System.setProperty(key, value);
    }

    public static Logger logger() {
        return LoggerFactory.getLogger(LOGGER_NAME);
    }
}
