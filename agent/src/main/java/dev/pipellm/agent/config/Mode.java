package dev.pipellm.agent.config;

/** What the agent does with the calls the shim hands it. Values are {@code pl_mode} in shim_bridge.h. */
public enum Mode {
    /** Everything goes to the real functions; the agent only observes and counts. */
    PASSTHROUGH("passthrough", 1),
    /** The agent performs every AES-256-GCM EVP message itself with the JDK's AES. */
    SYNC("sync", 2);

    /** The option value ({@code mode=...}) and the JSON value of "mode". */
    public final String key;
    /** {@code pl_mode} value written into {@code pl_upcalls.mode}. */
    public final int nativeValue;

    Mode(String key, int nativeValue) {
        this.key = key;
        this.nativeValue = nativeValue;
    }
}
