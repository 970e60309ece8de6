package dev.pipellm.agent.log;

import java.util.HashSet;
import java.util.Set;
import org.slf4j.Logger;

/**
 * One stderr line per distinct error: the first time a (where, exception class, message) triple is seen
 * it is logged at WARN; later occurrences are only counted by the caller's counters. Messages come from
 * the JDK or from the agent and never contain keys or data (the agent never puts them in exception
 * messages). Bounded: after {@link #MAX_DISTINCT} distinct errors, nothing more is printed.
 *
 * <p>Only on error paths, so allocating here is fine. Thread-safe (synchronized).
 */
public final class DistinctErrorLog {
    public static final int MAX_DISTINCT = 64;
    private static final Logger LOG = AgentLog.logger();
    private final Set<String> seen = new HashSet<>();

    /** Records {@code t} seen at {@code where}; returns true if it was new (and was logged). */
    public boolean record(String where, Throwable t) {
        String id = where + ": " + t.getClass().getName() + (t.getMessage() == null ? "" : ": " + t.getMessage());
        synchronized (this) {
            if (seen.size() >= MAX_DISTINCT || !seen.add(id)) return false;
        }
        LOG.warn("pipellm: agent error in {} (first occurrence; the message was handled by the real OpenSSL"
                + " or refused): {}", where, id.substring(where.length() + 2));
        return true;
    }

    /** Records a condition that is not an exception (e.g. a missing real function). */
    public boolean record(String where, String what) {
        String id = where + ": " + what;
        synchronized (this) {
            if (seen.size() >= MAX_DISTINCT || !seen.add(id)) return false;
        }
        LOG.warn("pipellm: {}", id);
        return true;
    }
}
