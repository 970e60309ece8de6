package dev.pipellm.agent.config;

/**
 * Who handles the driver's messages while the agent's own AES-GCM is cold ({@code cold_start=}).
 * The JDK's GCM intrinsic runs only from C2-compiled code: a fresh agent is ~100x slower than
 * OpenSSL until the JIT has warmed up (java-stack.md section 1).
 */
public enum ColdStart {
    /** The real OpenSSL, until the warm-up has shown the agent's engine faster on this machine. */
    OPENSSL("openssl"),
    /** The agent from the first message, however slow (benchmarks of the cold engine, tests). */
    AGENT("agent");

    public final String key;

    ColdStart(String key) {
        this.key = key;
    }
}
