/*
 * Finding the real functions. RTLD_NEXT works when the library is in the global scope (an app linked
 * against libcudart). PyTorch, ctypes and JNI libraries load libcudart with RTLD_LOCAL, where
 * RTLD_NEXT sees nothing: then the loaded objects are scanned for the library by name and asked
 * directly. Each entry is resolved on its first use and cached; a missing one costs one warning.
 */
#include "shim_internal.h"

#include <dlfcn.h>
#include <link.h>
#include <string.h>

void *_Atomic pl_real[PL_HOOK_COUNT];

const char *const pl_hook_names[PL_HOOK_COUNT] = {
#define X(ret, name, params, args, lib) #name,
#include "shim_hooks.def"
#undef X
};

static const int hook_lib[PL_HOOK_COUNT] = {
#define X(ret, name, params, args, lib) lib,
#include "shim_hooks.def"
#undef X
};

/* cudaGetDriverEntryPoint is deprecated in CUDA 13, and still what programs call. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
void *const pl_wrappers[PL_HOOK_COUNT] = {
#define X(ret, name, params, args, lib) (void *)name,
#include "shim_hooks.def"
#undef X
};
#pragma GCC diagnostic pop

int pl_hook_kind(pl_hook_id id) { return hook_lib[id]; }

int pl_cuda_hook_by_name(const char *name) {
    for (int i = 0; i < PL_HOOK_COUNT; i++)
        if (hook_lib[i] != PL_LIB_CRYPTO && !strcmp(pl_hook_names[i], name)) return i;
    return -1;
}

typedef struct scan { const char *lib_fragment; const char *symbol; const char *self; void *found; } scan;

static int scan_object(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    scan *s = arg;
    const char *name = info->dlpi_name;
    if (!name || !*name || !strstr(name, s->lib_fragment) || (s->self && !strcmp(name, s->self))) return 0;
    void *h = dlopen(name, RTLD_NOLOAD | RTLD_LAZY);
    if (!h) return 0;
    void *p = pl_dlsym(h, s->symbol);
    dlclose(h);   /* RTLD_NOLOAD took a reference: give it back, the object stays loaded */
    if (p) {
        s->found = p;
        return 1;
    }
    return 0;
}

void *pl_resolve(pl_hook_id id) {
    const char *name = pl_hook_names[id];
    void *p = pl_dlsym(RTLD_NEXT, name);
    if (!p) {
        Dl_info self;
        dladdr((void *)pl_resolve, &self);
        static const char *const FRAGMENT[] = {[PL_LIB_CUDART] = "libcudart.so", [PL_LIB_CUDA] = "libcuda.so",
                                               [PL_LIB_CRYPTO] = "libcrypto.so"};
        scan s = {FRAGMENT[hook_lib[id]], name, self.dli_fname, NULL};
        dl_iterate_phdr(scan_object, &s);
        p = s.found;
    }
    static _Atomic char warned[PL_HOOK_COUNT];
    if (p) atomic_store_explicit(&pl_real[id], p, memory_order_release);
    else if (!atomic_exchange(&warned[id], 1)) pl_log(PL_LOG_WARN, "cannot find the real %s (yet)", name);
    return p;
}

/* The real OpenSSL functions a replay needs, once libcrypto is loaded: the agent replays a message
 * through them (even one the shim never called itself, such as the real EVP_DecryptUpdate when the
 * agent did every decryption), reading the table directly. Called before the agent's messages. */
void pl_resolve_crypto(void) {
    /* What a replay calls (the agent's RealEvp); OpenSSL 1.1 lacks some of the other entries. */
    static const pl_hook_id REPLAY[] = {PL_ID_EVP_EncryptInit_ex, PL_ID_EVP_EncryptUpdate, PL_ID_EVP_EncryptFinal_ex,
                                        PL_ID_EVP_DecryptInit_ex, PL_ID_EVP_DecryptUpdate, PL_ID_EVP_DecryptFinal_ex,
                                        PL_ID_EVP_CIPHER_CTX_ctrl, PL_ID_EVP_aes_256_gcm};
    static _Atomic int done;
    if (atomic_load_explicit(&done, memory_order_acquire)) return;
    int all = 1;
    for (size_t i = 0; i < sizeof REPLAY / sizeof REPLAY[0]; i++)
        if (!atomic_load_explicit(&pl_real[REPLAY[i]], memory_order_acquire)) all &= pl_resolve(REPLAY[i]) != NULL;
    if (all) atomic_store_explicit(&done, 1, memory_order_release);
}
