/*
 * OpenSSL EVP calls. Only the CUDA driver's calls can reach the agent (shim_caller.c decides by the
 * return address); every other call, the host's own crypto and OpenSSL calling itself included,
 * goes straight to the real function, untouched.
 *
 * For the driver's calls the real init always runs first, so the real context is keyed and ready
 * whether the agent handles the message, passes it through or replays it after a fault. The agent
 * decides which messages it handles (AES-256-GCM ones with a 12-byte IV). The calls it does not
 * emulate (other init entry points, copy, params) first drop or hand over what the agent holds for
 * the context. The agent starts on a CUDA call, or on the driver's first AES-256-GCM init: a program
 * that reaches the driver without the runtime's exported copies (a handle from dlopen, the driver
 * API, static cudart) is still served. The host's own crypto never starts it.
 */
#include "shim_internal.h"

#define CALLER __builtin_return_address(0)

static int cipher_kind(const EVP_CIPHER *t) {
    if (!t) return PL_CIPHER_UNCHANGED;
    EVP_aes_256_gcm_fn gcm = PL_REAL(EVP_aes_256_gcm);
    return gcm && t == gcm() ? PL_CIPHER_AES_256_GCM : PL_CIPHER_OTHER;
}

/* The agent, when this call is the driver's and may reach it; NULL otherwise. A message the agent
 * owns is the driver's whoever makes the call: an interposer in front of the shim (its update not a
 * tail call) must not send one update to OpenSSL in the middle of the agent's message. */
static const pl_upcalls *driver_agent(void *caller, const void *ctx) {
    if (atomic_load_explicit(&pl_agent_state, memory_order_acquire) != PL_AGENT_READY) return NULL;
    if (!pl_owns(ctx) && !pl_caller_is_driver(caller)) return NULL;
    return pl_agent_for_message(ctx);
}

/* A successful AES-256-GCM init by the driver starts an idle agent (once: later calls see it ready,
 * or failed, or off). Any other caller, cipher or state costs one load. */
static void start_for_driver(void *caller, const EVP_CIPHER *t, int result) {
    if (result != 1 || atomic_load_explicit(&pl_agent_state, memory_order_acquire) != PL_AGENT_IDLE) return;
    if (cipher_kind(t) == PL_CIPHER_AES_256_GCM && pl_caller_is_driver(caller)) pl_agent_start();
}

/* Encrypt/DecryptInit_ex from the driver: after the real init, the agent may take the message. */
static int after_init(void *caller, EVP_CIPHER_CTX *c, int enc, const EVP_CIPHER *t, const unsigned char *key,
                      const unsigned char *iv, int result) {
    pl_note_owned(c, 0);   /* a new message: whatever the context held before is over */
    start_for_driver(caller, t, result);
    const pl_upcalls *up = result == 1 ? driver_agent(caller, c) : NULL;
    if (!up) return result;
    pl_resolve_crypto();
    int r = up->evp_init(c, enc, cipher_kind(t), key, iv);
    pl_note_owned(c, r == PL_OWNED);
    return r == PL_PASS || r == PL_OWNED ? result : r;
}

/* Before a real call the agent does not emulate; 0 when the call must fail instead. */
static int drop(void *caller, const void *c, int how) {
    if (how == PL_DROP_FORGET) pl_note_owned(c, 0);   /* a hand-over still needs the agent: see driver_agent */
    const pl_upcalls *up = driver_agent(caller, c);
    if (!up) return 1;
    pl_note_owned(c, 0);   /* from here on the real context holds the message, or nothing does */
    return up->evp_drop((void *)c, how) != 0;
}

PL_API int EVP_EncryptInit_ex(EVP_CIPHER_CTX *c, const EVP_CIPHER *t, ENGINE *e, const unsigned char *key,
                              const unsigned char *iv) {
    EVP_EncryptInit_ex_fn real = PL_REAL(EVP_EncryptInit_ex);
    return real ? after_init(CALLER, c, 1, t, key, iv, real(c, t, e, key, iv)) : 0;
}

PL_API int EVP_DecryptInit_ex(EVP_CIPHER_CTX *c, const EVP_CIPHER *t, ENGINE *e, const unsigned char *key,
                              const unsigned char *iv) {
    EVP_DecryptInit_ex_fn real = PL_REAL(EVP_DecryptInit_ex);
    return real ? after_init(CALLER, c, 0, t, key, iv, real(c, t, e, key, iv)) : 0;
}

/* Update and final: the agent's answer for a message it owns, else the real function's. */
#define AGENT_OR_REAL(name, agent_call, real_args)                                          \
    do {                                                                                    \
        const pl_upcalls *up = driver_agent(CALLER, c);                                     \
        if (up) {                                                                           \
            int r = agent_call;                                                             \
            if (r != PL_PASS) return r;                                                     \
        }                                                                                   \
        name##_fn real = PL_REAL(name);                                                     \
        return real ? real real_args : 0;                                                   \
    } while (0)

PL_API int EVP_EncryptUpdate(EVP_CIPHER_CTX *c, unsigned char *out, int *outl, const unsigned char *in, int inl) {
    AGENT_OR_REAL(EVP_EncryptUpdate, up->evp_update(c, 1, out, outl, in, inl), (c, out, outl, in, inl));
}

PL_API int EVP_DecryptUpdate(EVP_CIPHER_CTX *c, unsigned char *out, int *outl, const unsigned char *in, int inl) {
    AGENT_OR_REAL(EVP_DecryptUpdate, up->evp_update(c, 0, out, outl, in, inl), (c, out, outl, in, inl));
}

PL_API int EVP_CipherUpdate(EVP_CIPHER_CTX *c, unsigned char *out, int *outl, const unsigned char *in, int inl) {
    AGENT_OR_REAL(EVP_CipherUpdate, up->evp_update(c, PL_ENC_CONTEXT, out, outl, in, inl), (c, out, outl, in, inl));
}

PL_API int EVP_EncryptFinal_ex(EVP_CIPHER_CTX *c, unsigned char *out, int *outl) {
    AGENT_OR_REAL(EVP_EncryptFinal_ex, up->evp_final(c, 1, out, outl), (c, out, outl));
}

PL_API int EVP_DecryptFinal_ex(EVP_CIPHER_CTX *c, unsigned char *out, int *outl) {
    AGENT_OR_REAL(EVP_DecryptFinal_ex, up->evp_final(c, 0, out, outl), (c, out, outl));
}

PL_API int EVP_CipherFinal_ex(EVP_CIPHER_CTX *c, unsigned char *out, int *outl) {
    AGENT_OR_REAL(EVP_CipherFinal_ex, up->evp_final(c, PL_ENC_CONTEXT, out, outl), (c, out, outl));
}

/* The pre-1.1 names: the same calls as the _ex ones in OpenSSL 3. */
PL_API int EVP_EncryptFinal(EVP_CIPHER_CTX *c, unsigned char *out, int *outl) {
    AGENT_OR_REAL(EVP_EncryptFinal, up->evp_final(c, 1, out, outl), (c, out, outl));
}

PL_API int EVP_DecryptFinal(EVP_CIPHER_CTX *c, unsigned char *out, int *outl) {
    AGENT_OR_REAL(EVP_DecryptFinal, up->evp_final(c, 0, out, outl), (c, out, outl));
}

PL_API int EVP_CipherFinal(EVP_CIPHER_CTX *c, unsigned char *out, int *outl) {
    AGENT_OR_REAL(EVP_CipherFinal, up->evp_final(c, PL_ENC_CONTEXT, out, outl), (c, out, outl));
}

PL_API int EVP_CIPHER_CTX_ctrl(EVP_CIPHER_CTX *c, int type, int arg, void *ptr) {
    AGENT_OR_REAL(EVP_CIPHER_CTX_ctrl, up->evp_ctrl(c, type, arg, ptr), (c, type, arg, ptr));
}

/* Calls the agent does not emulate: drop (or hand over) first, then the real function. */
#define DROP_THEN_REAL(name, ctx, how, args)                                                \
    do {                                                                                    \
        if (!drop(CALLER, ctx, how)) return 0;                                              \
        name##_fn real = PL_REAL(name);                                                     \
        return real ? real args : 0;                                                        \
    } while (0)

/* The other init entry points start the agent as well (the message itself stays OpenSSL's). */
#define INIT_THEN_REAL(name, t, args)                                                       \
    do {                                                                                    \
        void *caller_ = CALLER;                                                             \
        if (!drop(caller_, c, PL_DROP_FORGET)) return 0;                                    \
        name##_fn real = PL_REAL(name);                                                     \
        int r_ = real ? real args : 0;                                                      \
        start_for_driver(caller_, t, r_);                                                   \
        return r_;                                                                          \
    } while (0)

PL_API int EVP_CipherInit_ex(EVP_CIPHER_CTX *c, const EVP_CIPHER *t, ENGINE *e, const unsigned char *key,
                             const unsigned char *iv, int enc) {
    INIT_THEN_REAL(EVP_CipherInit_ex, t, (c, t, e, key, iv, enc));
}

PL_API int EVP_EncryptInit_ex2(EVP_CIPHER_CTX *c, const EVP_CIPHER *t, const unsigned char *key, const unsigned char *iv,
                               const OSSL_PARAM *p) {
    INIT_THEN_REAL(EVP_EncryptInit_ex2, t, (c, t, key, iv, p));
}

PL_API int EVP_DecryptInit_ex2(EVP_CIPHER_CTX *c, const EVP_CIPHER *t, const unsigned char *key, const unsigned char *iv,
                               const OSSL_PARAM *p) {
    INIT_THEN_REAL(EVP_DecryptInit_ex2, t, (c, t, key, iv, p));
}

PL_API int EVP_CipherInit_ex2(EVP_CIPHER_CTX *c, const EVP_CIPHER *t, const unsigned char *key, const unsigned char *iv,
                              int enc, const OSSL_PARAM *p) {
    INIT_THEN_REAL(EVP_CipherInit_ex2, t, (c, t, key, iv, enc, p));
}

PL_API int EVP_EncryptInit(EVP_CIPHER_CTX *c, const EVP_CIPHER *t, const unsigned char *key, const unsigned char *iv) {
    INIT_THEN_REAL(EVP_EncryptInit, t, (c, t, key, iv));
}

PL_API int EVP_DecryptInit(EVP_CIPHER_CTX *c, const EVP_CIPHER *t, const unsigned char *key, const unsigned char *iv) {
    INIT_THEN_REAL(EVP_DecryptInit, t, (c, t, key, iv));
}

PL_API int EVP_CipherInit(EVP_CIPHER_CTX *c, const EVP_CIPHER *t, const unsigned char *key, const unsigned char *iv,
                          int enc) {
    INIT_THEN_REAL(EVP_CipherInit, t, (c, t, key, iv, enc));
}

PL_API int EVP_CIPHER_CTX_get_params(EVP_CIPHER_CTX *c, OSSL_PARAM *p) {
    DROP_THEN_REAL(EVP_CIPHER_CTX_get_params, c, PL_DROP_HANDOVER, (c, p));
}

PL_API int EVP_CIPHER_CTX_set_params(EVP_CIPHER_CTX *c, const OSSL_PARAM *p) {
    DROP_THEN_REAL(EVP_CIPHER_CTX_set_params, c, PL_DROP_HANDOVER_FORGET, (c, p));
}

PL_API int EVP_CIPHER_CTX_reset(EVP_CIPHER_CTX *c) {
    DROP_THEN_REAL(EVP_CIPHER_CTX_reset, c, PL_DROP_FORGET, (c));
}

PL_API int EVP_CIPHER_CTX_copy(EVP_CIPHER_CTX *out, const EVP_CIPHER_CTX *in) {
    /* the source must hold its whole message for OpenSSL to copy it; the destination starts anew */
    void *caller = CALLER;
    if (!drop(caller, in, PL_DROP_HANDOVER) || !drop(caller, out, PL_DROP_FORGET)) return 0;
    EVP_CIPHER_CTX_copy_fn real = PL_REAL(EVP_CIPHER_CTX_copy);
    return real ? real(out, in) : 0;
}

PL_API void EVP_CIPHER_CTX_free(EVP_CIPHER_CTX *c) {
    if (c) drop(CALLER, c, PL_DROP_FORGET);
    EVP_CIPHER_CTX_free_fn real = PL_REAL(EVP_CIPHER_CTX_free);
    if (real) real(c);
}

/* Interposed only to be resolved (the agent compares against it and replays with it). */
PL_API const EVP_CIPHER *EVP_aes_256_gcm(void) {
    EVP_aes_256_gcm_fn real = PL_REAL(EVP_aes_256_gcm);
    return real ? real() : NULL;
}
