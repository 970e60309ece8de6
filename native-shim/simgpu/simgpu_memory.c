/*
 * Device memory: one address range reserved at start-up (MAP_NORESERVE, so an 80 GB device fits a
 * 24 GB machine: only touched pages cost RAM), carved by a first-fit allocator with coalescing.
 * A pointer is a device pointer iff it lies in that range, as UVA makes real device pointers
 * distinct from host ones. Pinned host memory: cudaHostAlloc blocks and cudaHostRegister ranges,
 * kept in an address-sorted table.
 */
#include "simgpu_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define DEVICE_ALIGN 256u   /* cudaMalloc guarantees at least 256-byte alignment */

typedef struct block {
    uint64_t off, size;
    uint64_t requested;   /* what cudaMalloc was asked for: copies past it are refused */
    int free;
    struct block *prev, *next;
} block;

typedef struct pinned {
    uintptr_t base;
    size_t size;      /* requested size */
    size_t map_size;  /* mmap'd size (cudaHostAlloc) or 0 (cudaHostRegister) */
    unsigned flags;
} pinned;

static pthread_mutex_t mem_mu = PTHREAD_MUTEX_INITIALIZER;
static char *arena;
static uint64_t arena_size, arena_used;
static block *blocks;
static pinned *pins;
static size_t n_pins, cap_pins;

int simgpu_memory_init(uint64_t bytes) {
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        simgpu_log(SIMGPU_LOG_ERROR, "cannot reserve %llu bytes of address space for device memory "
                   "(SIMGPU_MEMORY_BYTES); lower it or allow overcommit", (unsigned long long)bytes);
        return -1;
    }
    arena = p;
    arena_size = bytes;
    blocks = calloc(1, sizeof *blocks);
    if (!blocks) return -1;
    blocks->size = bytes;
    blocks->free = 1;
    return 0;
}

int simgpu_is_device_ptr(const void *p) {
    return arena && (const char *)p >= arena && (const char *)p < arena + arena_size;
}

static block *find_block(uint64_t off) {
    for (block *b = blocks; b; b = b->next)
        if (off >= b->off && off < b->off + b->size) return b;
    return NULL;
}

int simgpu_device_range_valid(const void *p, size_t n) {
    if (!simgpu_is_device_ptr(p)) return 0;
    uint64_t off = (uint64_t)((const char *)p - arena);
    pthread_mutex_lock(&mem_mu);
    block *b = find_block(off);
    int ok = b && !b->free && n <= b->off + b->requested - off && off < b->off + b->requested;
    pthread_mutex_unlock(&mem_mu);
    return ok;
}

uint64_t simgpu_memory_used(void) {
    pthread_mutex_lock(&mem_mu);
    uint64_t u = arena_used;
    pthread_mutex_unlock(&mem_mu);
    return u;
}

/* Gives the pages of a freed block back to the OS, so freed device memory costs no RAM. */
static void release_pages(uint64_t off, uint64_t size) {
    long page = sysconf(_SC_PAGESIZE);
    uint64_t start = (off + (uint64_t)page - 1) & ~((uint64_t)page - 1);
    uint64_t end = (off + size) & ~((uint64_t)page - 1);
    if (end > start) madvise(arena + start, end - start, MADV_DONTNEED);
}

static void coalesce(block *b) {
    if (b->next && b->next->free) {
        block *n = b->next;
        b->size += n->size;
        b->next = n->next;
        if (n->next) n->next->prev = b;
        free(n);
    }
    if (b->prev && b->prev->free) {
        block *p = b->prev;
        p->size += b->size;
        p->next = b->next;
        if (b->next) b->next->prev = p;
        free(b);
    }
}

SIMGPU_API cudaError_t cudaMalloc(void **devPtr, size_t size) {
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    if (!devPtr) return simgpu_ret(cudaErrorInvalidValue);
    if (size == 0) {
        *devPtr = NULL;
        return cudaSuccess;
    }
    if (size > arena_size) return simgpu_ret(cudaErrorMemoryAllocation);
    uint64_t need = (size + DEVICE_ALIGN - 1) & ~(uint64_t)(DEVICE_ALIGN - 1);
    pthread_mutex_lock(&mem_mu);
    block *b = blocks;
    while (b && !(b->free && b->size >= need)) b = b->next;
    if (!b) {
        pthread_mutex_unlock(&mem_mu);
        return simgpu_ret(cudaErrorMemoryAllocation);
    }
    if (b->size > need) {
        block *rest = calloc(1, sizeof *rest);
        if (!rest) {
            pthread_mutex_unlock(&mem_mu);
            return simgpu_ret(cudaErrorMemoryAllocation);
        }
        rest->off = b->off + need;
        rest->size = b->size - need;
        rest->free = 1;
        rest->prev = b;
        rest->next = b->next;
        if (b->next) b->next->prev = rest;
        b->next = rest;
        b->size = need;
    }
    b->free = 0;
    b->requested = size;
    arena_used += b->size;
    *devPtr = arena + b->off;
    pthread_mutex_unlock(&mem_mu);
    return cudaSuccess;
}

SIMGPU_API cudaError_t cudaFree(void *devPtr) {
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    if (!devPtr) return cudaSuccess;               /* cudaFree(0) is the classic init idiom */
    if (!simgpu_is_device_ptr(devPtr)) return simgpu_ret(cudaErrorInvalidValue);
    simgpu_device_synchronize_all();               /* cudaFree synchronises the device */
    uint64_t off = (uint64_t)((char *)devPtr - arena);
    pthread_mutex_lock(&mem_mu);
    block *b = find_block(off);
    if (!b || b->free || b->off != off) {          /* double free, interior or unknown pointer */
        pthread_mutex_unlock(&mem_mu);
        return simgpu_ret(cudaErrorInvalidValue);
    }
    b->free = 1;
    arena_used -= b->size;
    release_pages(b->off, b->size);
    coalesce(b);
    pthread_mutex_unlock(&mem_mu);
    return cudaSuccess;
}

SIMGPU_API cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total) {
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    if (!free_bytes || !total) return simgpu_ret(cudaErrorInvalidValue);
    uint64_t used = simgpu_memory_used();
    *total = arena_size;
    *free_bytes = arena_size - used;
    return cudaSuccess;
}

/* ---- pinned host memory ---- */

static size_t pin_index(uintptr_t p) {   /* first entry with base > p */
    size_t lo = 0, hi = n_pins;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (pins[mid].base <= p) lo = mid + 1; else hi = mid;
    }
    return lo;
}

static pinned *pin_containing(uintptr_t p) {
    size_t i = pin_index(p);
    if (i == 0) return NULL;
    pinned *x = &pins[i - 1];
    return p < x->base + (x->size ? x->size : 1) ? x : NULL;
}

int simgpu_pinned_range(const void *p, size_t n) {
    pthread_mutex_lock(&mem_mu);
    pinned *x = pin_containing((uintptr_t)p);
    int ok = x && n <= x->base + x->size - (uintptr_t)p;
    pthread_mutex_unlock(&mem_mu);
    return ok;
}

static int pin_insert(uintptr_t base, size_t size, size_t map_size, unsigned flags) {
    if (n_pins == cap_pins) {
        size_t cap = cap_pins ? cap_pins * 2 : 64;
        pinned *np = realloc(pins, cap * sizeof *np);
        if (!np) return -1;
        pins = np;
        cap_pins = cap;
    }
    size_t i = pin_index(base);
    memmove(&pins[i + 1], &pins[i], (n_pins - i) * sizeof *pins);
    pins[i] = (pinned){base, size, map_size, flags};
    n_pins++;
    return 0;
}

static void pin_remove(pinned *x) {
    size_t i = (size_t)(x - pins);
    memmove(&pins[i], &pins[i + 1], (n_pins - i - 1) * sizeof *pins);
    n_pins--;
}

static cudaError_t host_alloc(void **pHost, size_t size, unsigned int flags) {
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    if (!pHost || (flags & ~(unsigned)(cudaHostAllocPortable | cudaHostAllocMapped | cudaHostAllocWriteCombined)))
        return simgpu_ret(cudaErrorInvalidValue);
    if (size == 0) {
        *pHost = NULL;
        return cudaSuccess;
    }
    long page = sysconf(_SC_PAGESIZE);
    size_t map_size = (size + (size_t)page - 1) & ~((size_t)page - 1);
    void *p = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return simgpu_ret(cudaErrorMemoryAllocation);
    pthread_mutex_lock(&mem_mu);
    int rc = pin_insert((uintptr_t)p, size, map_size, flags);
    pthread_mutex_unlock(&mem_mu);
    if (rc) {
        munmap(p, map_size);
        return simgpu_ret(cudaErrorMemoryAllocation);
    }
    *pHost = p;
    return cudaSuccess;
}

SIMGPU_API cudaError_t cudaHostAlloc(void **pHost, size_t size, unsigned int flags) {
    return host_alloc(pHost, size, flags);
}

SIMGPU_API cudaError_t cudaMallocHost(void **ptr, size_t size) {
    return host_alloc(ptr, size, cudaHostAllocDefault);
}

SIMGPU_API cudaError_t cudaFreeHost(void *ptr) {
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    if (!ptr) return cudaSuccess;
    simgpu_device_synchronize_all();
    pthread_mutex_lock(&mem_mu);
    pinned *x = pin_containing((uintptr_t)ptr);
    if (!x || x->base != (uintptr_t)ptr || x->map_size == 0) {
        pthread_mutex_unlock(&mem_mu);
        return simgpu_ret(cudaErrorInvalidValue);
    }
    size_t map_size = x->map_size;
    pin_remove(x);
    pthread_mutex_unlock(&mem_mu);
    munmap(ptr, map_size);
    return cudaSuccess;
}

SIMGPU_API cudaError_t cudaHostRegister(void *ptr, size_t size, unsigned int flags) {
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    /* Under CC the GPU cannot DMA into private CVM memory: the real driver refuses every call
     * (cudaErrorNotSupported, measured on an H200 under TDX, vllm#55428). */
    if (g.cfg.cc_on) return simgpu_ret(cudaErrorNotSupported);
    if (!ptr || size == 0 || (flags & ~0xFu)) return simgpu_ret(cudaErrorInvalidValue);
    uintptr_t base = (uintptr_t)ptr;
    pthread_mutex_lock(&mem_mu);
    size_t i = pin_index(base + size - 1);
    int overlaps = i > 0 && pins[i - 1].base + pins[i - 1].size > base;
    int rc = overlaps ? 1 : pin_insert(base, size, 0, flags);
    pthread_mutex_unlock(&mem_mu);
    if (overlaps) return simgpu_ret(cudaErrorHostMemoryAlreadyRegistered);
    return rc ? simgpu_ret(cudaErrorMemoryAllocation) : cudaSuccess;
}

SIMGPU_API cudaError_t cudaHostUnregister(void *ptr) {
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    if (g.cfg.cc_on) return simgpu_ret(cudaErrorNotSupported);
    if (!ptr) return simgpu_ret(cudaErrorInvalidValue);
    pthread_mutex_lock(&mem_mu);
    pinned *x = pin_containing((uintptr_t)ptr);
    int ok = x && x->base == (uintptr_t)ptr && x->map_size == 0;
    if (ok) pin_remove(x);
    pthread_mutex_unlock(&mem_mu);
    return ok ? cudaSuccess : simgpu_ret(cudaErrorHostMemoryNotRegistered);
}

/* UVA: a pinned block's device address is its host address. Under CC the GPU cannot reach host
 * memory at all (no zero-copy): cudaErrorNotSupported, as for cudaHostRegister. Memory that is not
 * pinned has no device mapping: cudaErrorInvalidValue. */
SIMGPU_API cudaError_t cudaHostGetDevicePointer(void **pDevice, void *pHost, unsigned int flags) {
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    if (!pDevice || !pHost || flags) return simgpu_ret(cudaErrorInvalidValue);
    if (!simgpu_pinned_range(pHost, 1)) return simgpu_ret(cudaErrorInvalidValue);
    if (g.cfg.cc_on) return simgpu_ret(cudaErrorNotSupported);
    *pDevice = pHost;
    return cudaSuccess;
}

SIMGPU_API cudaError_t cudaPointerGetAttributes(struct cudaPointerAttributes *attr, const void *ptr) {
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    if (!attr || !ptr) return simgpu_ret(cudaErrorInvalidValue);
    memset(attr, 0, sizeof *attr);
    if (simgpu_is_device_ptr(ptr)) {
        if (!simgpu_device_range_valid(ptr, 1)) return simgpu_ret(cudaErrorInvalidValue);
        attr->type = cudaMemoryTypeDevice;
        attr->device = 0;
        attr->devicePointer = (void *)ptr;
        return cudaSuccess;
    }
    if (simgpu_pinned_range(ptr, 1)) {
        attr->type = cudaMemoryTypeHost;
        attr->device = 0;
        attr->hostPointer = (void *)ptr;
        attr->devicePointer = (void *)ptr;   /* UVA: the same address on both sides */
        return cudaSuccess;
    }
    attr->type = cudaMemoryTypeUnregistered;   /* CUDA 11+: success for plain host memory */
    attr->device = -2;
    attr->hostPointer = (void *)ptr;
    return cudaSuccess;
}

void simgpu_memory_reset(void) {
    pthread_mutex_lock(&mem_mu);
    while (blocks && blocks->next) {
        block *n = blocks->next;
        blocks->next = n->next;
        free(n);
    }
    if (blocks) {
        blocks->off = 0;
        blocks->size = arena_size;
        blocks->free = 1;
        blocks->prev = NULL;
    }
    madvise(arena, arena_size, MADV_DONTNEED);
    arena_used = 0;
    for (size_t i = 0; i < n_pins; i++)
        if (pins[i].map_size) munmap((void *)pins[i].base, pins[i].map_size);
    n_pins = 0;
    pthread_mutex_unlock(&mem_mu);
}
