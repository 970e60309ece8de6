/*
 * trace_play: replays a PipeLLM copy trace (docs/trace-format.md, version 1) through the CUDA runtime
 * API, exactly as recorded: the same allocations, copies (kind, size, stream, sync or async), events,
 * stream waits, synchronisations, host writes and delays, in the same order, with real buffers. Host
 * buffers hold reproducible pseudo-random bytes (a function of the region, the offset and the host
 * write that last wrote them), rewritten where the trace says. Modelled compute goes to simgpu's
 * simgpuStreamCompute on the record's stream (on a real GPU, where that symbol is absent, it becomes a
 * host-side delay of the same length). At the end a host-only second pass recomputes what every
 * device byte (and every host byte a D2H copy wrote) must hold and compares: any difference is a
 * message naming the region and offset, and exit status 1.
 *
 * usage: trace_play FILE [--verify=full|off] [--loops=N]
 * --loops=N replays the timed part N times (the same records, host writes continuing their
 * generations) and reports the last one: the earlier loops warm up PipeLLM's agent (JIT, the IV
 * learner, the predictors), as a long-running server would have been.
 * Output: one result line "trace_play ... wall_s=... cpu_s=..." (statistics of the timed part; cpu_s:
 * the CPU time the whole process used meanwhile, every thread), then
 * "trace_play verify=ok ..." (or verify=off). Exit 0; 1: a CUDA call failed or verification failed;
 * 2: bad arguments or a bad trace file (one line naming the file, the record and the byte).
 *
 * The timed part starts after the leading ALLOC (and DELAY) records, allocated and filled beforehand
 * like a server's start-up, and ends with a cudaDeviceSynchronize before the trailing FREE records
 * (the teardown, done after the check).
 */
#define _GNU_SOURCE
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

enum {
    T_END = 0, T_ALLOC, T_FREE, T_COPY, T_COPY_2D, T_SYNC_STREAM, T_SYNC_DEVICE, T_EVENT_RECORD,
    T_STREAM_WAIT, T_EVENT_SYNC, T_HOST_WRITE, T_COMPUTE, T_DELAY, T_MARK, T_MAX = T_MARK
};
static const int FIELDS[] = {1, 3, 2, 6, 9, 1, 0, 2, 2, 1, 2, 2, 1, 1};
static const char *NAMES[] = {"end", "alloc", "free", "copy", "copy_2d", "sync_stream", "sync_device",
                              "event_record", "stream_wait", "event_sync", "host_write", "compute", "delay", "mark"};
enum { MEM_DEVICE = 0, MEM_PINNED = 1, MEM_PAGEABLE = 2, MEM_REGISTERED = 3 };
enum { SPACE_DEVICE = 0, SPACE_HOST = 1 };
enum { DIR_H2H = 0, DIR_H2D = 1, DIR_D2H = 2, DIR_D2D = 3 };
#define FLAG_ASYNC 1u
#define FLAG_PINNED 2u
#define MERGE_GAP (64u << 10) /* implicit ranges closer than this share one allocation */
#define CHUNK (64u << 20)     /* read-back chunk of the verification */

typedef struct {
    uint8_t type;
    uint8_t dir;      /* copies: resolved direction */
    int32_t rdst, rsrc; /* copies: region of dst and src; host_write, alloc, free: region in rdst */
    uint64_t f[9];
} rec_t;

typedef struct {
    int space, kind, implicit;
    uint64_t addr, size;   /* as recorded */
    uint64_t lo, hi;       /* touched extent, offsets into the region (lo == hi: untouched) */
    int written;           /* host region a copy or a host write changes: the check needs its own shadow */
    long alloc_rec, free_rec;
    char *ptr;             /* the real allocation */
    char *shadow;          /* the verification pass's copy of [lo, hi), or NULL: read ptr */
    int live;
} region_t;

static const char *g_file;
static rec_t *g_recs;
static size_t g_nrecs;
static region_t *g_regions;
static size_t g_nregions, g_capregions;
static uint64_t g_seed = 0x5049504c4c4d3031ull; /* "PIPLLM01" */

static void die_trace(size_t rec, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4), noreturn));
static void die_trace(size_t rec, size_t at, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (rec == (size_t)-1) fprintf(stderr, "trace play: %s: %s\n", g_file, msg);
    else fprintf(stderr, "trace play: %s: record %zu at byte %zu: %s\n", g_file, rec, at, msg);
    exit(2);
}

static void die_cuda(size_t rec, const char *call, cudaError_t e) __attribute__((noreturn));
static void die_cuda(size_t rec, const char *call, cudaError_t e) {
    fprintf(stderr, "trace play: record %zu (%s): %s failed: %s (%s)\n", rec,
            rec < g_nrecs ? NAMES[g_recs[rec].type] : "setup", call, cudaGetErrorName(e), cudaGetErrorString(e));
    exit(1);
}
#define CK(rec, call) do { cudaError_t e_ = (call); if (e_ != cudaSuccess) die_cuda((rec), #call, e_); } while (0)

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) { fprintf(stderr, "trace play: out of memory (%zu bytes)\n", n); exit(1); }
    return p;
}

/* Transparent huge pages for the host memory the player fills (where the kernel gives them on request):
 * first-touch faults of GBs of buffers otherwise dominate a FlexGen trace's setup (4 KiB pages: ~10 s
 * of system time for 5 GB on the development VM). Advice only: failure (a real GPU's pinned memory,
 * a kernel without THP) changes nothing. */
static void huge_pages(void *p, size_t n) {
    uintptr_t lo = ((uintptr_t)p + 4095) & ~(uintptr_t)4095, hi = ((uintptr_t)p + n) & ~(uintptr_t)4095;
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
}

static void *xmap(size_t n) {
    void *p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { fprintf(stderr, "trace play: mmap of %zu bytes failed: %s\n", n, strerror(errno)); exit(1); }
    huge_pages(p, n);
    return p;
}

static double cpu_s(void) { /* CPU time of the whole process: this thread, simgpu's, the agent's */
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void delay_ns(uint64_t ns) {
    struct timespec t, end;
    clock_gettime(CLOCK_MONOTONIC, &t);
    uint64_t target = (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec + ns;
    if (ns > 200000) { /* sleep most of a long delay, spin the rest */
        uint64_t s = target - 100000;
        end.tv_sec = s / 1000000000ull;
        end.tv_nsec = s % 1000000000ull;
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &end, NULL) == EINTR) {}
    }
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec >= target) return;
    }
}

/* ---- content: 8-byte words of splitmix64(region key, write generation, word index) ---- */
static inline uint64_t mix(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Writes the content of offsets [off, off+n) of region r, generation gen, to dst. */
static void fill(char *dst, size_t r, uint64_t off, uint64_t n, uint64_t gen) {
    uint64_t key = mix(g_seed ^ (r * 0xd1b54a32d192ed03ull)) ^ (gen * 0x8cb92ba72f3d8dd7ull);
    uint64_t end = off + n;
    while (off < end && (off & 7)) {
        uint64_t w = mix(key ^ (off >> 3));
        *dst++ = (char)(w >> ((off & 7) * 8));
        off++;
    }
    while (off + 8 <= end) {
        uint64_t w = mix(key ^ (off >> 3));
        memcpy(dst, &w, 8);
        dst += 8;
        off += 8;
    }
    while (off < end) {
        uint64_t w = mix(key ^ (off >> 3));
        *dst++ = (char)(w >> ((off & 7) * 8));
        off++;
    }
}

/* ---- parsing ---- */
static uint64_t varint(const unsigned char *b, size_t len, size_t *pos, size_t rec, size_t at) {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (*pos >= len) die_trace(rec, at, "truncated inside a record");
        unsigned c = b[(*pos)++];
        if (shift == 63 && (c & 0x7e)) die_trace(rec, at, "varint overflows 64 bits");
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) return v;
    }
    die_trace(rec, at, "varint longer than 10 bytes");
}

static void check_id(uint64_t v, const char *what, size_t rec, size_t at) {
    if (v > 0x7fffffffull) die_trace(rec, at, "%s id %" PRIu64 " is out of range (0 to 2^31-1)", what, v);
}

static void parse(const unsigned char *b, size_t len, char *meta_out, size_t meta_cap) {
    static const unsigned char magic[8] = {'P', 'L', 'T', 'R', 'A', 'C', 'E', 0};
    if (len < 16) die_trace((size_t)-1, 0, "truncated header (%zu of 16 bytes)", len);
    if (memcmp(b, magic, 8)) die_trace((size_t)-1, 0, "not a PipeLLM trace (bad magic; expected \"PLTRACE\\0\")");
    unsigned version = b[8] | b[9] << 8, flags = b[10] | b[11] << 8;
    if (version != 1) die_trace((size_t)-1, 0, "trace version %u is not supported (this player reads version 1)", version);
    if (flags) die_trace((size_t)-1, 0, "header flags %u are not 0", flags);
    uint64_t mlen = b[12] | (uint64_t)b[13] << 8 | (uint64_t)b[14] << 16 | (uint64_t)b[15] << 24;
    if (mlen > (1u << 20) || 16 + mlen > len) die_trace((size_t)-1, 0, "truncated metadata (%" PRIu64 " bytes announced)", mlen);
    size_t m = mlen < meta_cap - 1 ? mlen : meta_cap - 1;
    memcpy(meta_out, b + 16, m);
    meta_out[m] = 0;
    size_t pos = 16 + mlen, cap = 1024;
    g_recs = xmalloc(cap * sizeof *g_recs);
    for (;;) {
        size_t at = pos;
        if (pos >= len) die_trace((size_t)-1, 0, "truncated: no END record after %zu records (a writer that did not finish?)", g_nrecs);
        unsigned type = b[pos++];
        if (type > T_MAX) die_trace(g_nrecs, at, "unknown record type %u (accepted: 0 to %d)", type, T_MAX);
        rec_t r = {.type = (uint8_t)type, .rdst = -1, .rsrc = -1};
        for (int i = 0; i < FIELDS[type]; i++) r.f[i] = varint(b, len, &pos, g_nrecs, at);
        switch (type) {
        case T_END:
            if (r.f[0] != g_nrecs) die_trace(g_nrecs, at, "END says %" PRIu64 " records, the file has %zu", r.f[0], g_nrecs);
            if (pos != len) die_trace(g_nrecs, pos, "data after the END record");
            return;
        case T_ALLOC: case T_FREE:
            if (r.f[0] > MEM_REGISTERED)
                die_trace(g_nrecs, at, "%s: memory kind %" PRIu64 " (accepted: 0 device, 1 host pinned, 2 host pageable, 3 host registered)", NAMES[type], r.f[0]);
            break;
        case T_COPY: case T_COPY_2D:
            if (r.f[0] > 4) die_trace(g_nrecs, at, "copy kind %" PRIu64 " (accepted: 0 h2h, 1 h2d, 2 d2h, 3 d2d, 4 default)", r.f[0]);
            if (r.f[1] & ~(uint64_t)(FLAG_ASYNC | FLAG_PINNED)) die_trace(g_nrecs, at, "copy flags %" PRIu64 " (accepted bits: 1 async, 2 pinned)", r.f[1]);
            check_id(r.f[2], "stream", g_nrecs, at);
            if (type == T_COPY_2D && (r.f[7] > r.f[4] || r.f[7] > r.f[6]))
                die_trace(g_nrecs, at, "copy_2d: width %" PRIu64 " exceeds a pitch", r.f[7]);
            break;
        case T_SYNC_STREAM: case T_COMPUTE: check_id(r.f[0], "stream", g_nrecs, at); break;
        case T_EVENT_RECORD: case T_STREAM_WAIT: case T_EVENT_SYNC: {
            uint64_t ev = type == T_STREAM_WAIT ? r.f[1] : r.f[0];
            if (ev == 0) die_trace(g_nrecs, at, "%s: event id 0 (event ids start at 1)", NAMES[type]);
            check_id(ev, "event", g_nrecs, at);
            if (type != T_EVENT_SYNC) check_id(type == T_STREAM_WAIT ? r.f[0] : r.f[1], "stream", g_nrecs, at);
            break;
        }
        default: break;
        }
        if (g_nrecs == cap) {
            cap *= 2;
            g_recs = realloc(g_recs, cap * sizeof *g_recs);
            if (!g_recs) { fprintf(stderr, "trace play: out of memory\n"); exit(1); }
        }
        g_recs[g_nrecs++] = r;
    }
}

static const char *meta_get(const char *meta, const char *key, char *out, size_t cap) {
    size_t kl = strlen(key);
    for (const char *p = meta; *p;) {
        const char *nl = strchr(p, '\n');
        size_t ll = nl ? (size_t)(nl - p) : strlen(p);
        if (ll > kl && !strncmp(p, key, kl) && p[kl] == '=') {
            size_t vl = ll - kl - 1 < cap - 1 ? ll - kl - 1 : cap - 1;
            memcpy(out, p + kl + 1, vl);
            out[vl] = 0;
            return out;
        }
        p += ll + (nl ? 1 : 0);
    }
    return NULL;
}

/* ---- regions ---- */
static size_t new_region(int space, int kind, int implicit, uint64_t addr, uint64_t size) {
    if (g_nregions == g_capregions) {
        g_capregions = g_capregions ? 2 * g_capregions : 64;
        g_regions = realloc(g_regions, g_capregions * sizeof *g_regions);
        if (!g_regions) { fprintf(stderr, "trace play: out of memory\n"); exit(1); }
    }
    region_t *r = &g_regions[g_nregions];
    memset(r, 0, sizeof *r);
    r->space = space, r->kind = kind, r->implicit = implicit, r->addr = addr, r->size = size;
    r->lo = UINT64_MAX, r->hi = 0, r->alloc_rec = -1, r->free_rec = -1;
    return g_nregions++;
}

static void touch(size_t ri, uint64_t addr, uint64_t n, int writes) {
    region_t *r = &g_regions[ri];
    uint64_t lo = addr - r->addr, hi = lo + n;
    if (lo < r->lo) r->lo = lo;
    if (hi > r->hi) r->hi = hi;
    if (writes) r->written = 1;
}

/* Implicit ranges: endpoints no live ALLOC covers, merged into allocations after the first pass. */
typedef struct { int space; uint64_t lo, hi; size_t rec; int which; int writes; } pending_t;
static pending_t *g_pend;
static size_t g_npend, g_cappend;

static size_t *g_live; /* indices of the live explicit regions during the resolution pass */
static size_t g_nlive, g_caplive;

static long find_live(int space, uint64_t addr, uint64_t n) {
    for (size_t i = g_nlive; i-- > 0;) {
        region_t *r = &g_regions[g_live[i]];
        if (r->space == space && addr >= r->addr && addr - r->addr <= r->size && n <= r->size - (addr - r->addr))
            return (long)g_live[i];
    }
    return -1;
}

static int is_device_addr(uint64_t addr) { return find_live(SPACE_DEVICE, addr, 1) >= 0; }

static void endpoint(size_t rec, int which, int space, uint64_t addr, uint64_t n, int writes) {
    long ri = find_live(space, addr, n);
    if (ri >= 0) {
        touch((size_t)ri, addr, n, writes);
        if (which == 0) g_recs[rec].rdst = (int32_t)ri; else g_recs[rec].rsrc = (int32_t)ri;
        return;
    }
    if (g_npend == g_cappend) {
        g_cappend = g_cappend ? 2 * g_cappend : 1024;
        g_pend = realloc(g_pend, g_cappend * sizeof *g_pend);
        if (!g_pend) { fprintf(stderr, "trace play: out of memory\n"); exit(1); }
    }
    g_pend[g_npend++] = (pending_t){space, addr, addr + (n ? n : 1), rec, which, writes};
}

static int cmp_pend(const void *a, const void *b) {
    const pending_t *x = a, *y = b;
    if (x->space != y->space) return x->space - y->space;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static void resolve(void) {
    for (size_t i = 0; i < g_nrecs; i++) {
        rec_t *r = &g_recs[i];
        switch (r->type) {
        case T_ALLOC: {
            int space = r->f[0] == MEM_DEVICE ? SPACE_DEVICE : SPACE_HOST;
            size_t ri = new_region(space, (int)r->f[0], 0, r->f[1], r->f[2]);
            g_regions[ri].alloc_rec = (long)i;
            r->rdst = (int32_t)ri;
            if (g_nlive == g_caplive) {
                g_caplive = g_caplive ? 2 * g_caplive : 64;
                g_live = realloc(g_live, g_caplive * sizeof *g_live);
            }
            g_live[g_nlive++] = ri;
            break;
        }
        case T_FREE: {
            int space = r->f[0] == MEM_DEVICE ? SPACE_DEVICE : SPACE_HOST;
            size_t k;
            for (k = g_nlive; k-- > 0;)
                if (g_regions[g_live[k]].space == space && g_regions[g_live[k]].addr == r->f[1]) break;
            if (k == (size_t)-1) die_trace(i, 0, "free of 0x%" PRIx64 ", which no live %s allocation starts at", r->f[1],
                                           space == SPACE_DEVICE ? "device" : "host");
            r->rdst = (int32_t)g_live[k];
            g_regions[g_live[k]].free_rec = (long)i;
            g_live[k] = g_live[--g_nlive];
            break;
        }
        case T_COPY: case T_COPY_2D: {
            int kind = (int)r->f[0];
            uint64_t dst = r->f[3], src = r->type == T_COPY ? r->f[4] : r->f[5];
            uint64_t dn, sn; /* extents */
            if (r->type == T_COPY) dn = sn = r->f[5];
            else {
                uint64_t w = r->f[7], h = r->f[8];
                dn = h ? (h - 1) * r->f[4] + w : 0;
                sn = h ? (h - 1) * r->f[6] + w : 0;
            }
            int dd, sd;
            if (kind == cudaMemcpyDefault) { dd = is_device_addr(dst); sd = is_device_addr(src); }
            else { dd = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
                   sd = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice; }
            r->dir = (uint8_t)(dd ? (sd ? DIR_D2D : DIR_H2D) : (sd ? DIR_D2H : DIR_H2H));
            endpoint(i, 0, dd ? SPACE_DEVICE : SPACE_HOST, dst, dn, 1);
            endpoint(i, 1, sd ? SPACE_DEVICE : SPACE_HOST, src, sn, 0);
            break;
        }
        case T_HOST_WRITE: endpoint(i, 0, SPACE_HOST, r->f[0], r->f[1], 1); break;
        default: break;
        }
    }
    qsort(g_pend, g_npend, sizeof *g_pend, cmp_pend);
    size_t i = 0;
    while (i < g_npend) {
        int space = g_pend[i].space;
        uint64_t lo = g_pend[i].lo, hi = g_pend[i].hi;
        size_t j = i + 1;
        while (j < g_npend && g_pend[j].space == space && g_pend[j].lo <= hi + MERGE_GAP) {
            if (g_pend[j].hi > hi) hi = g_pend[j].hi;
            j++;
        }
        uint64_t base = lo & ~(uint64_t)4095;
        size_t ri = new_region(space, space == SPACE_DEVICE ? MEM_DEVICE : MEM_PAGEABLE, 1, base, hi - base);
        for (size_t k = i; k < j; k++) {
            pending_t *p = &g_pend[k];
            touch(ri, p->lo, p->hi - p->lo, p->writes);
            if (p->which == 0) g_recs[p->rec].rdst = (int32_t)ri; else g_recs[p->rec].rsrc = (int32_t)ri;
        }
        i = j;
    }
}

/* ---- real memory ---- */
static void region_alloc(size_t ri, size_t rec) {
    region_t *r = &g_regions[ri];
    void *p = NULL;
    size_t n = r->size ? r->size : 1;
    switch (r->kind) {
    case MEM_DEVICE: CK(rec, cudaMalloc(&p, n)); break;
    case MEM_PINNED: CK(rec, cudaHostAlloc(&p, n, cudaHostAllocDefault)); huge_pages(p, n); break;
    case MEM_REGISTERED: p = xmap(n); CK(rec, cudaHostRegister(p, n, cudaHostRegisterDefault)); break;
    default: p = xmap(n);
    }
    r->ptr = p;
    r->live = 1;
    if (r->hi > r->lo) {
        if (r->space == SPACE_DEVICE) {
            /* The replay's streams are non-blocking: they do not wait for the legacy stream, so the
             * memset must be done before any of them can read the region. */
            CK(rec, cudaMemset(r->ptr + r->lo, 0, r->hi - r->lo));
            CK(rec, cudaStreamSynchronize(NULL));
        } else {
            fill(r->ptr + r->lo, ri, r->lo, r->hi - r->lo, 0);
        }
    }
}

static void region_free(size_t ri, size_t rec) {
    region_t *r = &g_regions[ri];
    switch (r->kind) {
    case MEM_DEVICE: CK(rec, cudaFree(r->ptr)); break;
    case MEM_PINNED: CK(rec, cudaFreeHost(r->ptr)); break;
    case MEM_REGISTERED: CK(rec, cudaHostUnregister(r->ptr)); munmap(r->ptr, r->size ? r->size : 1); break;
    default: munmap(r->ptr, r->size ? r->size : 1);
    }
    r->ptr = NULL;
    r->live = 0;
}

/* ---- streams and events: trace ids to handles, created before the timed part ---- */
static cudaStream_t *g_streams;
static cudaEvent_t *g_events;
static uint64_t g_maxstream, g_maxevent;

static void make_handles(void) {
    for (size_t i = 0; i < g_nrecs; i++) {
        rec_t *r = &g_recs[i];
        uint64_t s = 0, e = 0;
        switch (r->type) {
        case T_COPY: case T_COPY_2D: s = r->f[2]; break;
        case T_SYNC_STREAM: case T_COMPUTE: s = r->f[0]; break;
        case T_EVENT_RECORD: e = r->f[0]; s = r->f[1]; break;
        case T_STREAM_WAIT: s = r->f[0]; e = r->f[1]; break;
        case T_EVENT_SYNC: e = r->f[0]; break;
        default: break;
        }
        if (s > g_maxstream) g_maxstream = s;
        if (e > g_maxevent) g_maxevent = e;
    }
    g_streams = calloc(g_maxstream + 1, sizeof *g_streams);
    g_events = calloc(g_maxevent + 1, sizeof *g_events);
    for (uint64_t s = 1; s <= g_maxstream; s++) CK((size_t)-1, cudaStreamCreateWithFlags(&g_streams[s], cudaStreamNonBlocking));
    for (uint64_t e = 1; e <= g_maxevent; e++) CK((size_t)-1, cudaEventCreateWithFlags(&g_events[e], cudaEventDisableTiming));
}

static inline char *real_ptr(int32_t ri, uint64_t addr) {
    region_t *r = &g_regions[ri];
    return r->ptr + (addr - r->addr);
}

/* ---- the verification pass: the same data effects, on the host, in trace order ---- */
static size_t g_epilogue = (size_t)-1; /* first record of the trailing frees (done after the check) */

static int keeps_real(const region_t *r) { /* a host region nothing writes, live to the check: read the real one */
    return r->space == SPACE_HOST && !r->written && (r->free_rec < 0 || (size_t)r->free_rec >= g_epilogue);
}

static void shadow_alloc(size_t ri) {
    region_t *r = &g_regions[ri];
    if (keeps_real(r) || r->hi <= r->lo) return;
    r->shadow = xmap(r->hi - r->lo); /* zeros */
    if (r->space == SPACE_HOST) fill(r->shadow, ri, r->lo, r->hi - r->lo, 0);
}

static inline char *shadow_ptr(int32_t ri, uint64_t addr) {
    region_t *r = &g_regions[ri];
    if (!r->shadow) return r->ptr + (addr - r->addr);
    return r->shadow + (addr - r->addr - r->lo);
}

/* The records [0, first) once, then [first, end) `loops` times, as the timed pass ran them. */
static void shadow_pass(size_t first, size_t end, int loops) {
    for (size_t ri = 0; ri < g_nregions; ri++)
        if (g_regions[ri].implicit) shadow_alloc(ri);
    uint64_t gen = 0;
    for (size_t k = 0, i = 0; i < end || (k + 1 < (size_t)loops && first < end); i++) {
        if (i == end) { i = first; k++; }
        rec_t *r = &g_recs[i];
        switch (r->type) {
        case T_ALLOC: shadow_alloc((size_t)r->rdst); break;
        case T_FREE: {
            region_t *g = &g_regions[r->rdst];
            if (g->shadow) munmap(g->shadow, g->hi - g->lo);
            g->shadow = NULL;
            break;
        }
        case T_COPY: memmove(shadow_ptr(r->rdst, r->f[3]), shadow_ptr(r->rsrc, r->f[4]), r->f[5]); break;
        case T_COPY_2D: {
            char *d = shadow_ptr(r->rdst, r->f[3]), *s = shadow_ptr(r->rsrc, r->f[5]);
            for (uint64_t row = 0; row < r->f[8]; row++) memmove(d + row * r->f[4], s + row * r->f[6], r->f[7]);
            break;
        }
        case T_HOST_WRITE: {
            region_t *g = &g_regions[r->rdst];
            fill(shadow_ptr(r->rdst, r->f[0]), (size_t)r->rdst, r->f[0] - g->addr, r->f[1], ++gen);
            break;
        }
        default: break;
        }
    }
}

static int compare(size_t ri, const char *got, const char *want, uint64_t off, uint64_t n) {
    if (!memcmp(got, want, n)) return 0;
    uint64_t k = 0;
    while (got[k] == want[k]) k++;
    region_t *r = &g_regions[ri];
    fprintf(stderr, "trace play: verification failed: %s region %zu (recorded at 0x%" PRIx64 ", %" PRIu64 " bytes, %s) "
            "differs at offset %" PRIu64 ": expected 0x%02x, found 0x%02x\n", r->space == SPACE_DEVICE ? "device" : "host",
            ri, r->addr, r->size, r->implicit ? "implicit" : "allocated by the trace", off + k,
            (unsigned char)want[k], (unsigned char)got[k]);
    return 1;
}

static int verify(uint64_t *checked) {
    char *buf = NULL;
    int bad = 0;
    for (size_t ri = 0; ri < g_nregions && !bad; ri++) {
        region_t *r = &g_regions[ri];
        if (!r->live || r->hi <= r->lo || !r->shadow) continue;
        if (r->space == SPACE_HOST) {
            bad |= compare(ri, r->ptr + r->lo, r->shadow, r->lo, r->hi - r->lo);
        } else {
            if (!buf) CK((size_t)-1, cudaMallocHost((void **)&buf, CHUNK));
            for (uint64_t off = r->lo; off < r->hi && !bad; off += CHUNK) {
                uint64_t n = r->hi - off < CHUNK ? r->hi - off : CHUNK;
                CK((size_t)-1, cudaMemcpy(buf, r->ptr + off, n, cudaMemcpyDeviceToHost));
                bad |= compare(ri, buf, r->shadow + (off - r->lo), off, n);
            }
        }
        *checked += r->hi - r->lo;
    }
    if (buf) cudaFreeHost(buf);
    return bad;
}

/* ---- simgpu's statistics, when the runtime is simgpu ---- */
typedef struct {
    unsigned long long h2d_copies, d2h_copies, d2d_copies, h2d_bytes, d2h_bytes, d2d_bytes, h2d_messages, d2h_messages,
        verified_messages, unverified_messages, tag_failures, key_rotations, iv_rotations, bounce_waits, compute_ns,
        h2d_driver_crypto_ns, d2h_driver_crypto_ns, h2d_channels_opened, h2d_channels_closed;
} sim_stats;
typedef cudaError_t (*get_stats_fn)(sim_stats *);
typedef cudaError_t (*stream_compute_fn)(cudaStream_t, unsigned long long);

int main(int argc, char **argv) {
    const char *file = NULL;
    int verify_on = 1, loops = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--verify=full")) verify_on = 1;
        else if (!strcmp(argv[i], "--verify=off")) verify_on = 0;
        else if (!strncmp(argv[i], "--loops=", 8)) {
            char *end;
            long n = strtol(argv[i] + 8, &end, 10);
            if (*end || end == argv[i] + 8 || n < 1 || n > 1000) {
                fprintf(stderr, "trace play: --loops '%s' is not valid: expected an integer from 1 to 1000\n", argv[i] + 8);
                return 2;
            }
            loops = (int)n;
        }
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "trace play: unknown option '%s' (accepted: --verify=full|off, --loops=N)\n", argv[i]);
            return 2;
        } else if (file) {
            fprintf(stderr, "trace play: more than one trace file given ('%s' and '%s')\n", file, argv[i]);
            return 2;
        } else file = argv[i];
    }
    if (!file) { fprintf(stderr, "trace play: no trace file given (usage: trace_play FILE [--verify=full|off] [--loops=N])\n"); return 2; }
    g_file = file;
    FILE *fp = fopen(file, "rb");
    if (!fp) { fprintf(stderr, "trace play: %s: %s\n", file, strerror(errno)); return 2; }
    struct stat st;
    if (fstat(fileno(fp), &st) || !S_ISREG(st.st_mode)) { fprintf(stderr, "trace play: %s: not a regular file\n", file); return 2; }
    unsigned char *bytes = xmalloc((size_t)st.st_size);
    if (fread(bytes, 1, (size_t)st.st_size, fp) != (size_t)st.st_size) { fprintf(stderr, "trace play: %s: read failed\n", file); return 2; }
    fclose(fp);
    char meta[8192], workload[256] = "unnamed", unit[64] = "", units[64] = "";
    parse(bytes, (size_t)st.st_size, meta, sizeof meta);
    free(bytes);
    meta_get(meta, "workload", workload, sizeof workload);
    meta_get(meta, "unit", unit, sizeof unit);
    meta_get(meta, "units", units, sizeof units);
    resolve();

    get_stats_fn get_stats = (get_stats_fn)dlsym(RTLD_DEFAULT, "simgpuGetStats");
    stream_compute_fn compute = (stream_compute_fn)dlsym(RTLD_DEFAULT, "simgpuStreamCompute");
    CK((size_t)-1, cudaSetDevice(0));
    make_handles();
    for (size_t ri = 0; ri < g_nregions; ri++)
        if (g_regions[ri].implicit) region_alloc(ri, (size_t)-1);
    /* Leading allocations (and the host time between them, not replayed): the server's start-up, before
     * the timed part. Trailing frees: its teardown, after the check (so that the check sees the memory). */
    size_t first = 0;
    for (; first < g_nrecs && (g_recs[first].type == T_ALLOC || g_recs[first].type == T_DELAY); first++)
        if (g_recs[first].type == T_ALLOC) region_alloc((size_t)g_recs[first].rdst, first);
    size_t last = g_nrecs;
    while (last > first && (g_recs[last - 1].type == T_FREE || g_recs[last - 1].type == T_DELAY)) last--;
    g_epilogue = last;
    CK((size_t)-1, cudaDeviceSynchronize());

    sim_stats s0 = {0}, s1 = {0};
    uint64_t gen = 0, ncompute = 0, computed_ns = 0;
    double t0 = 0, c0 = 0, mark_on = 0, mark_off = 0;
    for (int loop = 0; loop < loops; loop++) {
    if (loop == loops - 1) { /* the timed loop: the earlier ones warm the runtime up */
        CK((size_t)-1, cudaDeviceSynchronize());
        if (get_stats) CK((size_t)-1, get_stats(&s0));
        ncompute = computed_ns = 0;
        mark_on = mark_off = 0;
        c0 = cpu_s();
        t0 = now_s();
    }
    for (size_t i = first; i < last; i++) {
        rec_t *r = &g_recs[i];
        switch (r->type) {
        case T_ALLOC: region_alloc((size_t)r->rdst, i); break;
        case T_FREE: region_free((size_t)r->rdst, i); break;
        case T_COPY: {
            void *d = real_ptr(r->rdst, r->f[3]);
            const void *s = real_ptr(r->rsrc, r->f[4]);
            if (r->f[1] & FLAG_ASYNC) CK(i, cudaMemcpyAsync(d, s, r->f[5], (enum cudaMemcpyKind)r->f[0], g_streams[r->f[2]]));
            else CK(i, cudaMemcpy(d, s, r->f[5], (enum cudaMemcpyKind)r->f[0]));
            break;
        }
        case T_COPY_2D: {
            void *d = real_ptr(r->rdst, r->f[3]);
            const void *s = real_ptr(r->rsrc, r->f[5]);
            if (r->f[1] & FLAG_ASYNC)
                CK(i, cudaMemcpy2DAsync(d, r->f[4], s, r->f[6], r->f[7], r->f[8], (enum cudaMemcpyKind)r->f[0], g_streams[r->f[2]]));
            else CK(i, cudaMemcpy2D(d, r->f[4], s, r->f[6], r->f[7], r->f[8], (enum cudaMemcpyKind)r->f[0]));
            break;
        }
        case T_SYNC_STREAM: CK(i, cudaStreamSynchronize(g_streams[r->f[0]])); break;
        case T_SYNC_DEVICE: CK(i, cudaDeviceSynchronize()); break;
        case T_EVENT_RECORD: CK(i, cudaEventRecord(g_events[r->f[0]], g_streams[r->f[1]])); break;
        case T_STREAM_WAIT: CK(i, cudaStreamWaitEvent(g_streams[r->f[0]], g_events[r->f[1]], 0)); break;
        case T_EVENT_SYNC: CK(i, cudaEventSynchronize(g_events[r->f[0]])); break;
        case T_HOST_WRITE: {
            region_t *g = &g_regions[r->rdst];
            fill(real_ptr(r->rdst, r->f[0]), (size_t)r->rdst, r->f[0] - g->addr, r->f[1], ++gen);
            break;
        }
        case T_COMPUTE:
            ncompute++;
            computed_ns += r->f[1];
            if (compute) CK(i, compute(g_streams[r->f[0]], r->f[1]));
            else delay_ns(r->f[1]);
            break;
        case T_DELAY: delay_ns(r->f[0]); break;
        case T_MARK:
            if (r->f[0] == 1 && !mark_on) mark_on = now_s();
            if (r->f[0] == 2 && mark_on && !mark_off) mark_off = now_s();
            break;
        default: break;
        }
    }
    }
    CK(g_nrecs, cudaDeviceSynchronize());
    double t1 = now_s(), c1 = cpu_s();
    if (get_stats) CK((size_t)-1, get_stats(&s1));

    double wall = t1 - t0;
    printf("trace_play workload=%s records=%zu regions=%zu loops=%d", workload, g_nrecs, g_nregions, loops);
    if (unit[0] && units[0]) printf(" unit=%s units=%s throughput=%.6g", unit, units, strtod(units, NULL) / wall);
    printf(" wall_s=%.6f cpu_s=%.6f", wall, c1 - c0);
    if (mark_on && mark_off) printf(" steady_s=%.6f", mark_off - mark_on);
    if (get_stats) {
        printf(" stats=simgpu h2d_copies=%llu h2d_bytes=%llu d2h_copies=%llu d2h_bytes=%llu d2d_copies=%llu d2d_bytes=%llu"
               " h2d_messages=%llu d2h_messages=%llu compute_ns=%llu h2d_driver_crypto_ns=%llu d2h_driver_crypto_ns=%llu",
               s1.h2d_copies - s0.h2d_copies, s1.h2d_bytes - s0.h2d_bytes, s1.d2h_copies - s0.d2h_copies,
               s1.d2h_bytes - s0.d2h_bytes, s1.d2d_copies - s0.d2d_copies, s1.d2d_bytes - s0.d2d_bytes,
               s1.h2d_messages - s0.h2d_messages, s1.d2h_messages - s0.d2h_messages, s1.compute_ns - s0.compute_ns,
               s1.h2d_driver_crypto_ns - s0.h2d_driver_crypto_ns, s1.d2h_driver_crypto_ns - s0.d2h_driver_crypto_ns);
    } else {
        printf(" stats=none compute_records=%" PRIu64 " compute_ns=%" PRIu64, ncompute, computed_ns);
    }
    printf("\n");
    fflush(stdout);
    uint64_t checked = 0;
    if (verify_on) {
        shadow_pass(first, last, loops);
        if (verify(&checked)) return 1;
    }
    for (size_t i = last; i < g_nrecs; i++)
        if (g_recs[i].type == T_FREE) region_free((size_t)g_recs[i].rdst, i);
    if (verify_on) printf("trace_play verify=ok checked_bytes=%" PRIu64 "\n", checked);
    else printf("trace_play verify=off\n");
    return 0;
}
