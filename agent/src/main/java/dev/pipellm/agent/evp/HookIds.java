package dev.pipellm.agent.evp;

/**
 * Indices into the shim's real-function table ({@code void *real[]}, shim_hooks.def order), found by
 * name in the comma-separated {@code hookNames} the shim passes to bootstrap, so the agent never
 * hard-codes the order. A hook the shim does not have gets {@link #MISSING}.
 */
public final class HookIds {
    public static final int MISSING = -1;

    public final int encryptInit;
    public final int encryptUpdate;
    public final int encryptFinal;
    public final int decryptInit;
    public final int decryptUpdate;
    public final int decryptFinal;
    public final int ctrl;
    public final int aes256Gcm;
    public final int count;
    /** The CUDA runtime functions the pipeline's NOPs call. */
    public final int cudaMemcpyAsync;
    public final int cudaMalloc;
    public final int cudaStreamCreateWithFlags;

    private HookIds(String[] names, int count) {
        this.encryptInit = find(names, "EVP_EncryptInit_ex");
        this.encryptUpdate = find(names, "EVP_EncryptUpdate");
        this.encryptFinal = find(names, "EVP_EncryptFinal_ex");
        this.decryptInit = find(names, "EVP_DecryptInit_ex");
        this.decryptUpdate = find(names, "EVP_DecryptUpdate");
        this.decryptFinal = find(names, "EVP_DecryptFinal_ex");
        this.ctrl = find(names, "EVP_CIPHER_CTX_ctrl");
        this.aes256Gcm = find(names, "EVP_aes_256_gcm");
        this.count = count;
        this.cudaMemcpyAsync = find(names, "cudaMemcpyAsync");
        this.cudaMalloc = find(names, "cudaMalloc");
        this.cudaStreamCreateWithFlags = find(names, "cudaStreamCreateWithFlags");
    }

    /** {@code hookNames}: names in table order; only the first {@code realCount} are in the table. */
    public static HookIds parse(String hookNames, int realCount) {
        String[] names = hookNames == null || hookNames.isBlank() ? new String[0] : hookNames.split(",");
        for (int i = 0; i < names.length; i++) names[i] = names[i].strip();
        int n = Math.min(names.length, Math.max(realCount, 0));
        String[] usable = java.util.Arrays.copyOf(names, n);
        return new HookIds(usable, n);
    }

    private static int find(String[] names, String name) {
        for (int i = 0; i < names.length; i++) {
            if (names[i].equals(name)) return i;
        }
        return MISSING;
    }

    /** The EVP hooks a replay needs, missing ones named (empty when all are present). */
    public String missingEvp() {
        StringBuilder sb = new StringBuilder();
        if (encryptInit < 0) sb.append(" EVP_EncryptInit_ex");
        if (encryptUpdate < 0) sb.append(" EVP_EncryptUpdate");
        if (encryptFinal < 0) sb.append(" EVP_EncryptFinal_ex");
        if (decryptInit < 0) sb.append(" EVP_DecryptInit_ex");
        if (decryptUpdate < 0) sb.append(" EVP_DecryptUpdate");
        if (decryptFinal < 0) sb.append(" EVP_DecryptFinal_ex");
        if (ctrl < 0) sb.append(" EVP_CIPHER_CTX_ctrl");
        if (aes256Gcm < 0) sb.append(" EVP_aes_256_gcm");
        return sb.toString().strip();
    }
}
