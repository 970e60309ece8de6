package dev.pipellm.agent.config;

/**
 * TEST ONLY. Where {@code inject_fault=<point>:<n>} makes the agent's own path throw (on the n-th call
 * the agent handles itself, counted from 1 over the whole process), to prove the fallback to the real
 * OpenSSL. Never set this in production.
 */
public enum FaultPoint {
    NONE("none"),
    /** The n-th agent-handled EVP_EncryptUpdate/EVP_DecryptUpdate throws inside the agent. */
    EVP_UPDATE("evp_update"),
    /** The n-th agent-handled EVP_EncryptFinal_ex/EVP_DecryptFinal_ex throws inside the agent. */
    EVP_FINAL("evp_final"),
    /** pipellm mode: the encrypt worker taking its n-th slot dies (its thread ends with an error). */
    WORKER_DEATH("worker_death"),
    /** pipellm mode: every worker sleeps n milliseconds before each slot. */
    WORKER_SLOW("worker_slow"),
    /** The AES-GCM engine self-test at start reports a failure (n is ignored; use 1). */
    SELF_TEST("self_test"),
    /** The write-tracking probe (validate=uffd/auto) reports uffd unavailable, as on a kernel before 6.7 (use 1). */
    NO_UFFD("no_uffd");

    /** The accepted values, for the one-line error. */
    public static final String ACCEPTED = "none, evp_update:<n>, evp_final:<n>, worker_death:<n>, worker_slow:<ms>,"
            + " self_test:1, no_uffd:1 (n >= 1; test only)";

    public final String key;

    FaultPoint(String key) {
        this.key = key;
    }
}
