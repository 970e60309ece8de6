/*
 * Who called an EVP function. Only the CUDA driver's messages are PipeLLM's: a call whose return
 * address lies in the driver (libcuda.so*, NVIDIA's PKCS#11 library libnvidia-pkcs11*.so*) or in simgpu
 * (the object that exports simgpuCcEnabled) may reach the agent. Everything else passes straight
 * through to the real OpenSSL, untouched: the host's own TLS and AES-GCM, OpenSSL calling itself
 * through its PLT (EVP_EncryptInit_ex calls EVP_CIPHER_CTX_reset that way), the shim's own calls to
 * the real functions, and the agent's replay (its downcalls return into JIT code, which lies in no
 * object at all).
 *
 * An object is classified once (name, then an exported symbol, looked up through a NOLOAD handle)
 * and remembered by its link map and load address; the hot path is one _dl_find_object (lock-free,
 * glibc >= 2.35; dladdr1 before that) and a scan of a few remembered entries.
 */
#include "shim_internal.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <string.h>

enum { CALLER_OTHER = 0, CALLER_DRIVER = 1 };
#define MAX_KNOWN 32

typedef struct known_object { const void *map; const void *base; int cls; } known_object;

static known_object known[MAX_KNOWN];
static _Atomic int n_known;              /* entries [0, n_known) are published (release/acquire) */
static pthread_mutex_t known_mu = PTHREAD_MUTEX_INITIALIZER;

typedef int (*find_object_fn)(void *, struct dl_find_object *);
static find_object_fn find_object;
static pthread_once_t find_once = PTHREAD_ONCE_INIT;

static void resolve_find_object(void) {
    /* Looked up at run time, so the shim still loads on a glibc without it (then dladdr1). */
    find_object = (find_object_fn)pl_dlsym(RTLD_DEFAULT, "_dl_find_object");
}

/* The link map and load address of the object holding `addr`; 0 when none does (JIT code). */
static int object_of(void *addr, struct link_map **map, const void **base) {
    pthread_once(&find_once, resolve_find_object);
    if (find_object) {
        struct dl_find_object dfo;
        if (find_object(addr, &dfo)) return -1;
        *map = dfo.dlfo_link_map;
        *base = dfo.dlfo_map_start;
        return 0;
    }
    Dl_info info;
    if (!dladdr1(addr, &info, (void **)map, RTLD_DL_LINKMAP) || !*map) return -1;
    *base = info.dli_fbase;
    return 0;
}

static int name_is_driver(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return !strncmp(base, "libcuda.so", 10) || !strncmp(base, "libnvidia-pkcs11", 16);
}

static int classify(const struct link_map *map) {
    if (!map->l_name || !map->l_name[0]) return CALLER_OTHER;   /* the main program */
    if (name_is_driver(map->l_name)) return CALLER_DRIVER;
    void *h = dlopen(map->l_name, RTLD_NOLOAD | RTLD_LAZY);
    if (!h) return CALLER_OTHER;
    /* dlsym on a handle also searches its dependencies: ask whether simgpu's marker is its own */
    void *marker = pl_dlsym(h, "simgpuCcEnabled");
    Dl_info where;
    int cls = marker && dladdr(marker, &where) && where.dli_fname && !strcmp(where.dli_fname, map->l_name)
              ? CALLER_DRIVER : CALLER_OTHER;
    dlclose(h);
    return cls;
}

static int remembered(const void *map, const void *base, int upto) {
    for (int i = 0; i < upto; i++)
        if (known[i].map == map && known[i].base == base) return known[i].cls;
    return -1;
}

int pl_caller_is_driver(void *return_address) {
    struct link_map *map;
    const void *base;
    if (object_of(return_address, &map, &base)) return 0;
    int n = atomic_load_explicit(&n_known, memory_order_acquire);
    int cls = remembered(map, base, n);
    if (cls >= 0) return cls == CALLER_DRIVER;
    pthread_mutex_lock(&known_mu);
    n = atomic_load_explicit(&n_known, memory_order_relaxed);
    cls = remembered(map, base, n);
    if (cls < 0) {
        cls = classify(map);
        if (n < MAX_KNOWN) {   /* full: classify again next time (many EVP-calling objects; rare) */
            known[n] = (known_object){map, base, cls};
            atomic_store_explicit(&n_known, n + 1, memory_order_release);
        }
    }
    pthread_mutex_unlock(&known_mu);
    return cls == CALLER_DRIVER;
}

/* Not cached: for dlsym and entry-point lookups only. */
int pl_caller_is_cuda_library(void *addr) {
    struct link_map *map;
    const void *base;
    if (object_of(addr, &map, &base) || !map->l_name || !map->l_name[0]) return 0;
    const char *name = strrchr(map->l_name, '/');
    name = name ? name + 1 : map->l_name;
    return !strncmp(name, "libcudart.so", 12) || !strncmp(name, "libcuda.so", 10);
}

int pl_in_shim(void *addr) {
    struct link_map *map, *self;
    const void *base, *self_base;
    return !object_of(addr, &map, &base) && !object_of((void *)pl_in_shim, &self, &self_base) && map == self;
}
