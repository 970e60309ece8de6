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
    EVP_FINAL("evp_final");

    public final String key;

    FaultPoint(String key) {
        this.key = key;
    }
}
