/*
 * The contract between libpipellm.so (C) and the Java agent (dev.pipellm.agent.bridge.Bridge).
 *
 * Start-up, once per process, over JNI (the only JNI call):
 *   long Bridge.bootstrap(long realTable, int realCount, String hookNames, String options, int role)
 *     realTable  address of `void *real[realCount]`: the real functions, indexed by pl_hook_id
 *                (shim_hooks.def order). An entry may still be NULL (library not loaded yet) and is
 *                filled in later by C; read it each time it is needed.
 *     hookNames  the hook names in table order, comma-separated (Java finds indices by name).
 *     options    "key=value,..." merged from PIPELLM_* variables and -agentpath options
 *                (keys: mode, log, stats, fail_closed, workers, memory_budget, ...); Java validates
 *                them and prints one clear line naming the key on error.
 *     role       pl_role
 *   returns the address of a pl_upcalls the agent allocated for the life of the process (Arena.global),
 *   or 0 if the agent refuses to start (C then degrades to pass-through, or refuses copies when
 *   fail_closed was asked).
 *
 * Hot path: every function pointer in pl_upcalls is an FFM upcall stub of a static Java method that
 * takes primitives, catches every Throwable itself (an exception escaping an upcall kills the
 * process), allocates nothing after warm-up and never logs.
 */
#ifndef PL_SHIM_BRIDGE_H
#define PL_SHIM_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#define PL_BRIDGE_VERSION 3

enum pl_role { PL_ROLE_PRELOAD = 0, PL_ROLE_AGENTPATH = 1, PL_ROLE_JOINED = 2 };
enum pl_mode { PL_MODE_PASSTHROUGH = 1, PL_MODE_SYNC = 2, PL_MODE_PIPELLM = 3 };

/* EVP upcall result: the agent did not handle this call; C calls the real function. Any other
 * value is the EVP result (1 success, 0 failure) of a call the agent handled completely. */
#define PL_PASS (-1)
/* evp_init result: the real init's result stands, and the agent owns this message (its updates,
 * final and tag calls must reach the agent; C parks a thread that would bypass it, see shim_agent.c). */
#define PL_OWNED 2
/* enc argument of evp_update/evp_final for EVP_CipherUpdate/EVP_CipherFinal*: the context's direction. */
#define PL_ENC_CONTEXT (-1)

/* evp_drop: what a driver call the agent does not emulate needs before the real function runs. */
enum pl_drop {
    PL_DROP_FORGET = 0,          /* reset, free, any other init entry point, copy's destination */
    PL_DROP_HANDOVER = 1,        /* get_params, copy's source: the real context must hold the message */
    PL_DROP_HANDOVER_FORGET = 2, /* set_params: hand over, then forget (the context may change shape) */
};

enum pl_copy_api { PL_API_MEMCPY = 0, PL_API_MEMCPY_ASYNC = 1, PL_API_MEMCPY_2D = 2, PL_API_MEMCPY_2D_ASYNC = 3 };
enum pl_sync_api { PL_SYNC_STREAM = 0, PL_SYNC_DEVICE = 1, PL_SYNC_EVENT = 2, PL_EVENT_RECORD = 3, PL_STREAM_WAIT_EVENT = 4 };
enum pl_alloc_api { PL_ALLOC_HOST = 0, PL_FREE_HOST = 1, PL_ALLOC_DEVICE = 2, PL_FREE_DEVICE = 3 };
/* on_alloc result of the announcement before a real free */
#define PL_ALLOC_BEFORE (-1)
/* is_gcm256 argument of evp_init */
enum pl_cipher_kind { PL_CIPHER_OTHER = 0, PL_CIPHER_AES_256_GCM = 1, PL_CIPHER_UNCHANGED = -1 };

typedef struct pl_upcalls {
    int32_t version;     /* PL_BRIDGE_VERSION */
    int32_t mode;        /* pl_mode */
    int32_t fail_closed; /* 1: refuse copies (C returns cudaErrorNotPermitted) instead of passing through */
    int32_t size;        /* sizeof(pl_upcalls) as the agent laid it out: C refuses a table of another size */

    /* Before the real copy: dst (pitch dpitch), src (pitch spitch), width bytes per row, height rows
     * (1D copies: height 1, pitches = width). Returns 0 to let C call the real function, or a
     * cudaError_t C returns without copying (after_copy is then not called). The agent may issue
     * its own copies (NOPs) from here, through the real functions. */
    int (*on_copy)(int api, void *dst, size_t dpitch, const void *src, size_t spitch, size_t width, size_t height,
                   int kind, void *stream);
    /* After the real copy on_copy let through, with its result (always called once per such copy). */
    void (*after_copy)(int api, void *dst, const void *src, size_t width, size_t height, int kind, void *stream,
                       int result);
    /* Before a real ordering call (stream/device/event synchronize, event record, stream wait). */
    void (*before_sync)(int api, void *a, void *b);
    /* After a real ordering call, with its result. */
    void (*on_sync)(int api, void *a, void *b, int result);
    /* After a real allocation or free: the address allocated or freed, its size (0 for frees). A free
     * is also announced before the real free, with result PL_ALLOC_BEFORE: the agent stops reading
     * the memory (its workers copy plaintext from pinned host memory) before it goes away. */
    void (*on_alloc)(int api, void *ptr, size_t bytes, int result);

    /* EVP. enc: 1 encrypt, 0 decrypt. C calls the real EVP_{En,De}cryptInit_ex FIRST (so the real context
     * is always keyed and usable for pass-through or a replay), then evp_init, only if the real init
     * returned 1. evp_init returns PL_PASS, PL_OWNED, or 0 to make the init fail (fail-closed).
     * Only calls made by the CUDA driver reach these (shim_caller.c). Java decides per
     * message whether it handles the message; if it does, it handles all of that message's updates,
     * final and GCM tag ctrl calls (with its own AES-GCM, or by replaying the message through the real
     * functions from realTable if its own path fails), and must write exactly what OpenSSL would. */
    int (*evp_init)(void *ctx, int enc, int cipher_kind, const unsigned char *key, const unsigned char *iv);
    int (*evp_update)(void *ctx, int enc, unsigned char *out, int *outl, const unsigned char *in, int inl);
    int (*evp_final)(void *ctx, int enc, unsigned char *out, int *outl);
    int (*evp_ctrl)(void *ctx, int type, int arg, void *ptr);
    /* Before a real call the agent does not emulate (pl_drop): hand the message over to the real
     * context (replaying it) and/or forget the context. PL_PASS, or 0 when a needed hand-over is
     * impossible (C then fails the call instead of letting OpenSSL work on a context it lacks). */
    int (*evp_drop)(void *ctx, int how);
    /* Process exit in the preload role (atexit), or VM death in the agent role: flush statistics. */
    void (*on_exit)(void);
} pl_upcalls;

#endif
