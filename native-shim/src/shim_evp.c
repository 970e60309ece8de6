/*
 * OpenSSL EVP calls of the CC driver. The real init always runs first, so the real context is keyed
 * and ready whether the agent handles the message, passes it through or replays it after a fault.
 * Only the agent decides which messages it handles (AES-256-GCM ones); every other context (TLS in
 * a Python host, say) passes straight through. EVP calls never start the agent: CUDA calls do.
 */
#include "shim_internal.h"

static int cipher_kind(const EVP_CIPHER *t) {
    if (!t) return PL_CIPHER_UNCHANGED;
    EVP_aes_256_gcm_fn gcm = PL_REAL(EVP_aes_256_gcm);
    return gcm && t == gcm() ? PL_CIPHER_AES_256_GCM : PL_CIPHER_OTHER;
}

static int after_init(EVP_CIPHER_CTX *c, int enc, const EVP_CIPHER *t, const unsigned char *key,
                      const unsigned char *iv, int result) {
    const pl_upcalls *up = pl_agent_if_ready();
    if (result != 1 || !up) return result;
    int r = up->evp_init(c, enc, cipher_kind(t), key, iv);
    return r == PL_PASS ? result : r;
}

PL_API int EVP_EncryptInit_ex(EVP_CIPHER_CTX *c, const EVP_CIPHER *t, ENGINE *e, const unsigned char *key,
                              const unsigned char *iv) {
    EVP_EncryptInit_ex_fn real = PL_REAL(EVP_EncryptInit_ex);
    if (!real) return 0;
    return after_init(c, 1, t, key, iv, real(c, t, e, key, iv));
}

PL_API int EVP_DecryptInit_ex(EVP_CIPHER_CTX *c, const EVP_CIPHER *t, ENGINE *e, const unsigned char *key,
                              const unsigned char *iv) {
    EVP_DecryptInit_ex_fn real = PL_REAL(EVP_DecryptInit_ex);
    if (!real) return 0;
    return after_init(c, 0, t, key, iv, real(c, t, e, key, iv));
}

PL_API int EVP_EncryptUpdate(EVP_CIPHER_CTX *c, unsigned char *out, int *outl, const unsigned char *in, int inl) {
    const pl_upcalls *up = pl_agent_if_ready();
    if (up) {
        int r = up->evp_update(c, 1, out, outl, in, inl);
        if (r != PL_PASS) return r;
    }
    EVP_EncryptUpdate_fn real = PL_REAL(EVP_EncryptUpdate);
    return real ? real(c, out, outl, in, inl) : 0;
}

PL_API int EVP_DecryptUpdate(EVP_CIPHER_CTX *c, unsigned char *out, int *outl, const unsigned char *in, int inl) {
    const pl_upcalls *up = pl_agent_if_ready();
    if (up) {
        int r = up->evp_update(c, 0, out, outl, in, inl);
        if (r != PL_PASS) return r;
    }
    EVP_DecryptUpdate_fn real = PL_REAL(EVP_DecryptUpdate);
    return real ? real(c, out, outl, in, inl) : 0;
}

PL_API int EVP_EncryptFinal_ex(EVP_CIPHER_CTX *c, unsigned char *out, int *outl) {
    const pl_upcalls *up = pl_agent_if_ready();
    if (up) {
        int r = up->evp_final(c, 1, out, outl);
        if (r != PL_PASS) return r;
    }
    EVP_EncryptFinal_ex_fn real = PL_REAL(EVP_EncryptFinal_ex);
    return real ? real(c, out, outl) : 0;
}

PL_API int EVP_DecryptFinal_ex(EVP_CIPHER_CTX *c, unsigned char *out, int *outl) {
    const pl_upcalls *up = pl_agent_if_ready();
    if (up) {
        int r = up->evp_final(c, 0, out, outl);
        if (r != PL_PASS) return r;
    }
    EVP_DecryptFinal_ex_fn real = PL_REAL(EVP_DecryptFinal_ex);
    return real ? real(c, out, outl) : 0;
}

PL_API int EVP_CIPHER_CTX_ctrl(EVP_CIPHER_CTX *c, int type, int arg, void *ptr) {
    const pl_upcalls *up = pl_agent_if_ready();
    if (up) {
        int r = up->evp_ctrl(c, type, arg, ptr);
        if (r != PL_PASS) return r;
    }
    EVP_CIPHER_CTX_ctrl_fn real = PL_REAL(EVP_CIPHER_CTX_ctrl);
    return real ? real(c, type, arg, ptr) : 0;
}

PL_API int EVP_CIPHER_CTX_reset(EVP_CIPHER_CTX *c) {
    const pl_upcalls *up = pl_agent_if_ready();
    if (up) up->evp_forget(c);
    EVP_CIPHER_CTX_reset_fn real = PL_REAL(EVP_CIPHER_CTX_reset);
    return real ? real(c) : 0;
}

PL_API void EVP_CIPHER_CTX_free(EVP_CIPHER_CTX *c) {
    const pl_upcalls *up = pl_agent_if_ready();
    if (up && c) up->evp_forget(c);
    EVP_CIPHER_CTX_free_fn real = PL_REAL(EVP_CIPHER_CTX_free);
    if (real) real(c);
}

/* Interposed only to be resolved (the agent compares against it and replays with it). */
PL_API const EVP_CIPHER *EVP_aes_256_gcm(void) {
    EVP_aes_256_gcm_fn real = PL_REAL(EVP_aes_256_gcm);
    return real ? real() : NULL;
}
