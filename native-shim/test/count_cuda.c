/*
 * A preloaded interposer that counts the calls of every function simgpu exports (count_cuda.def)
 * and forwards each to the next definition (simgpu's). A call simgpu makes to one of its own
 * exported functions through the dynamic linker lands here too, so one API call that shows up as
 * two counts is an internal call an interposer (PipeLLM's shim) would mistake for the app's.
 * Read with count_cuda_calls(name) / count_cuda_total(), found with dlsym(RTLD_DEFAULT, ...).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "simgpu.h"

enum {
#define X(ret, name, params, args) ID_##name,
#define XV(name, params, args) ID_##name,
#include "count_cuda.def"
#undef X
#undef XV
    N_FUNCS
};

static const char *const NAMES[N_FUNCS] = {
#define X(ret, name, params, args) #name,
#define XV(name, params, args) #name,
#include "count_cuda.def"
#undef X
#undef XV
};

static _Atomic long counts[N_FUNCS];
static _Atomic long total;

static void *next(int id) {
    static void *_Atomic resolved[N_FUNCS];
    void *f = atomic_load(&resolved[id]);
    if (!f) {
        f = dlsym(RTLD_NEXT, NAMES[id]);
        atomic_store(&resolved[id], f);
    }
    return f;
}

static void tally(int id) {
    atomic_fetch_add(&counts[id], 1);
    atomic_fetch_add(&total, 1);
}

#define X(ret, name, params, args)                                  \
    ret name params {                                               \
        tally(ID_##name);                                           \
        return ((ret(*) params)next(ID_##name)) args;               \
    }
#define XV(name, params, args)                                      \
    void name params {                                              \
        tally(ID_##name);                                           \
        ((void(*) params)next(ID_##name)) args;                     \
    }
#include "count_cuda.def"
#undef X
#undef XV

/* Calls of `name` so far, or -1 for a name this interposer does not know. */
__attribute__((visibility("default"))) long count_cuda_calls(const char *name) {
    for (int i = 0; i < N_FUNCS; i++)
        if (!strcmp(NAMES[i], name)) return atomic_load(&counts[i]);
    return -1;
}

__attribute__((visibility("default"))) long count_cuda_total(void) { return atomic_load(&total); }
