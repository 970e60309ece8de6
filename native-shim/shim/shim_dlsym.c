/*
 * dlsym and dlvsym. A program that looks a CUDA function up in the library's own handle (ctypes,
 * JNI libraries, FFM's libraryLookup, frameworks that dlopen libcudart RTLD_LOCAL) gets the real
 * function and bypasses every preloaded definition. These wrappers hand out the shim's wrapper
 * instead, for a hooked name found in a CUDA library (libcudart, libcuda: by the defining object's
 * name) and looked up by anyone but a CUDA library itself (the runtime fetching the driver's
 * functions must get the real ones: its copies are already reported once). Everything else is the
 * real function's answer, untouched.
 *
 * The real dlsym and dlvsym, HAMi-core style: dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34"), then
 * "GLIBC_2.2.5". The shim defines dlvsym too, so its own dlvsym reference binds to itself: the
 * first real dlvsym is read from libc's dynamic symbol table (its default version), once, under
 * pthread_once. The shim's own lookups go through pl_dlsym (the real one): a scan for an RTLD_LOCAL
 * libcudart must find the real cudaMemcpy, not the wrapper.
 *
 * RTLD_NEXT and RTLD_DEFAULT depend on who called (glibc takes the caller from the return address):
 * those lookups are tail calls to the real function, so glibc still sees the program's call site
 * (tested by prog_dlsym). Nothing here allocates, locks after the first call, or logs.
 *
 * The driver's own lookup, cuGetProcAddress (both versions) and the runtime's
 * cudaGetDriverEntryPoint[ByVersion][_ptsz], get the same treatment: an entry point that is the real
 * function of a hooked driver name comes back as the shim's wrapper (compared by address: the name
 * asked for is a base name, cuMemcpyHtoD, and the version decides which function it is), and
 * cuGetProcAddress asked for itself returns the wrapper, so entry points fetched through it are
 * wrapped too. Requests from a CUDA library (libcudart filling its driver table) get the real ones.
 */
#include "shim_internal.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

typedef void *(*dlsym_fn)(void *, const char *);
typedef void *(*dlvsym_fn)(void *, const char *, const char *);

static dlsym_fn real_dlsym;
static dlvsym_fn real_dlvsym;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;

static uint32_t gnu_hash(const char *s) {
    uint32_t h = 5381;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) h = h * 33 + *p;
    return h;
}

/* The default-version definition of `name` in the object `m` (GNU hash table), or NULL. */
static void *elf_default_symbol(const struct link_map *m, const char *name) {
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    const uint32_t *hash = NULL;
    const ElfW(Half) *versym = NULL;
    for (const ElfW(Dyn) *d = m->l_ld; d && d->d_tag != DT_NULL; d++) {
        /* glibc relocates these in place, except where the dynamic section is read-only */
        uintptr_t v = d->d_un.d_ptr < m->l_addr ? d->d_un.d_ptr + m->l_addr : d->d_un.d_ptr;
        switch (d->d_tag) {
        case DT_SYMTAB: symtab = (const ElfW(Sym) *)v; break;
        case DT_STRTAB: strtab = (const char *)v; break;
        case DT_GNU_HASH: hash = (const uint32_t *)v; break;
        case DT_VERSYM: versym = (const ElfW(Half) *)v; break;
        default: break;
        }
    }
    if (!symtab || !strtab || !hash) return NULL;
    uint32_t nbuckets = hash[0], symoffset = hash[1], bloom_size = hash[2];
    if (!nbuckets) return NULL;
    const uint32_t *buckets = (const uint32_t *)((const ElfW(Addr) *)&hash[4] + bloom_size);
    const uint32_t *chain = buckets + nbuckets;
    uint32_t h = gnu_hash(name);
    uint32_t i = buckets[h % nbuckets];
    if (i < symoffset) return NULL;
    for (;; i++) {
        uint32_t h2 = chain[i - symoffset];
        const ElfW(Sym) *s = &symtab[i];
        if ((h | 1) == (h2 | 1) && s->st_shndx != SHN_UNDEF && s->st_value && !strcmp(strtab + s->st_name, name)
            && !(versym && (versym[i] & 0x8000)))
            return (void *)(m->l_addr + s->st_value);
        if (h2 & 1) return NULL;
    }
}

static void find_real(void) {
    /* libc: the object that defines dl_iterate_phdr (the shim's reference to it binds there) */
    Dl_info info;
    struct link_map *libc = NULL;
    if (!dladdr1((void *)dl_iterate_phdr, &info, (void **)&libc, RTLD_DL_LINKMAP) || !libc) return;
    dlvsym_fn libc_dlvsym = (dlvsym_fn)elf_default_symbol(libc, "dlvsym");
    dlsym_fn libc_dlsym = (dlsym_fn)elf_default_symbol(libc, "dlsym");
    if (!libc_dlvsym || !libc_dlsym) return;
    /* RTLD_NEXT from here: the next definition after the shim (another interposer, or libc) */
    dlsym_fn s = (dlsym_fn)libc_dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
    if (!s) s = (dlsym_fn)libc_dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
    dlvsym_fn v = (dlvsym_fn)libc_dlvsym(RTLD_NEXT, "dlvsym", "GLIBC_2.34");
    if (!v) v = (dlvsym_fn)libc_dlvsym(RTLD_NEXT, "dlvsym", "GLIBC_2.2.5");
    real_dlvsym = v ? v : libc_dlvsym;
    real_dlsym = s ? s : libc_dlsym;
}

static dlsym_fn the_real_dlsym(void) {
    pthread_once(&real_once, find_real);
    return real_dlsym;
}

static dlvsym_fn the_real_dlvsym(void) {
    pthread_once(&real_once, find_real);
    return real_dlvsym;
}

void *pl_dlsym(void *handle, const char *name) {
    dlsym_fn real = the_real_dlsym();
    return real ? real(handle, name) : NULL;
}

/* What a lookup in a handle answers: the shim's wrapper for a hooked CUDA name, else `found`. */
static void *substitute(void *found, const char *name, void *caller) {
    if (!found || !name || name[0] != 'c' || name[1] != 'u') return found;   /* cheap: most names */
    int id = pl_cuda_hook_by_name(name);
    if (id < 0 || found == pl_wrappers[id]) return found;
    if (pl_caller_is_cuda_library(caller) || pl_in_shim(caller) || !pl_caller_is_cuda_library(found)) return found;
    /* the wrapper calls pl_real[id]: it must be this very function (a second copy of the library in
     * the process keeps its own, unwrapped) */
    void *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(&pl_real[id], &expected, found, memory_order_acq_rel,
                                                 memory_order_acquire) && expected != found)
        return found;
    return pl_wrappers[id];
}

/* Tail calls (see the top): O2 for this function whatever the build type. */
#define PL_TAIL __attribute__((optimize("O2", "optimize-sibling-calls")))

PL_API PL_TAIL void *dlsym(void *handle, const char *name) {
    dlsym_fn real = the_real_dlsym();
    if (!real) return NULL;
    if (handle == RTLD_NEXT || handle == RTLD_DEFAULT) return real(handle, name);
    return substitute(real(handle, name), name, __builtin_return_address(0));
}

PL_API PL_TAIL void *dlvsym(void *handle, const char *name, const char *version) {
    dlvsym_fn real = the_real_dlvsym();
    if (!real) return NULL;
    if (handle == RTLD_NEXT || handle == RTLD_DEFAULT) return real(handle, name, version);
    return substitute(real(handle, name, version), name, __builtin_return_address(0));
}

/* The wrapper for an entry point the real lookup returned, or the entry point itself. */
static void *entry_point(void *fn, void *caller) {
    if (!fn || pl_caller_is_cuda_library(caller) || pl_in_shim(caller)) return fn;
    for (int id = 0; id < PL_HOOK_COUNT; id++) {
        if (pl_hook_kind(id) != PL_LIB_CUDA) continue;
        void *real = atomic_load_explicit(&pl_real[id], memory_order_acquire);
        if (!real) real = pl_resolve(id);
        if (real == fn) return pl_wrappers[id];
    }
    return fn;
}

#define CALLER __builtin_return_address(0)

PL_API CUresult cuGetProcAddress_v2(const char *sym, void **pfn, int v, cuuint64_t f, CUdriverProcAddressQueryResult *st) {
    cuGetProcAddress_v2_fn real = PL_REAL(cuGetProcAddress_v2);
    if (!real) return CUDA_ERROR_NOT_INITIALIZED;
    CUresult r = real(sym, pfn, v, f, st);
    if (r == CUDA_SUCCESS && pfn) *pfn = entry_point(*pfn, CALLER);
    return r;
}

PL_API CUresult cuGetProcAddress(const char *sym, void **pfn, int v, cuuint64_t f) {
    cuGetProcAddress_fn real = PL_REAL(cuGetProcAddress);
    if (!real) return CUDA_ERROR_NOT_INITIALIZED;
    CUresult r = real(sym, pfn, v, f);
    if (r == CUDA_SUCCESS && pfn) *pfn = entry_point(*pfn, CALLER);
    return r;
}

#define RUNTIME_ENTRY_POINT(name, params, args)                                              \
    PL_API cudaError_t name params {                                                         \
        name##_fn real = PL_REAL(name);                                                      \
        if (!real) return cudaErrorInitializationError;                                      \
        cudaError_t r = real args;                                                           \
        if (r == cudaSuccess && fp) *fp = entry_point(*fp, CALLER);                          \
        return r;                                                                            \
    }

RUNTIME_ENTRY_POINT(cudaGetDriverEntryPoint,
                    (const char *sym, void **fp, unsigned long long f, enum cudaDriverEntryPointQueryResult *st),
                    (sym, fp, f, st))
RUNTIME_ENTRY_POINT(cudaGetDriverEntryPoint_ptsz,
                    (const char *sym, void **fp, unsigned long long f, enum cudaDriverEntryPointQueryResult *st),
                    (sym, fp, f, st))
RUNTIME_ENTRY_POINT(cudaGetDriverEntryPointByVersion,
                    (const char *sym, void **fp, unsigned int v, unsigned long long f,
                     enum cudaDriverEntryPointQueryResult *st),
                    (sym, fp, v, f, st))
RUNTIME_ENTRY_POINT(cudaGetDriverEntryPointByVersion_ptsz,
                    (const char *sym, void **fp, unsigned int v, unsigned long long f,
                     enum cudaDriverEntryPointQueryResult *st),
                    (sym, fp, v, f, st))
