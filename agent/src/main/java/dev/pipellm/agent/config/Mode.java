package dev.pipellm.agent.config;

/** What the agent does with the calls the shim hands it. Values are {@code pl_mode} in shim_bridge.h. */
public enum Mode {
    /** Everything goes to the real functions; the agent only observes and counts. */
    PASSTHROUGH("passthrough", 1),
    /** The agent performs every AES-256-GCM EVP message itself with the JDK's AES. */
    SYNC("sync", 2),
    /**
     * The speculative pipeline: predicted H2D messages are pre-encrypted by workers and committed
     * inside the driver's EVP calls; everything else is done as in {@link #SYNC}.
     */
    PIPELLM("pipellm", 3);

    /** The values the agent accepts, for messages ({@code off} is the shim's). */
    public static final String ACCEPTED = "passthrough, sync, pipellm";

    /** The option value ({@code mode=...}) and the JSON value of "mode". */
    public final String key;
    /** {@code pl_mode} value written into {@code pl_upcalls.mode}. */
    public final int nativeValue;

    Mode(String key, int nativeValue) {
        this.key = key;
        this.nativeValue = nativeValue;
    }

    /** The agent performs messages itself (sync's slow path; pipellm adds the fast path). */
    public boolean agentCrypto() {
        return this != PASSTHROUGH;
    }
}
