/*
 * prog_pipeline_mix: a seeded random mix of the copy patterns of LLM serving, on the CUDA runtime
 * API, that checks every byte it reads back against the app's data at the time of its copy. It is
 * the program pipeline_property_test.py runs under ./pipellm run in each mode: a speculative
 * pipeline that commits a stale or misplaced ciphertext shows up here as a wrong byte, and one that
 * breaks the CC channel shows up as a CUDA error.
 *
 * Usage: prog_pipeline_mix [--seed S] [--ops N] [--threads 1|2] [--pattern mix|steady]
 *                          [--cycles C] [--layers L] [--layer-min BYTES] [--layer-max BYTES]
 *                          [--break-expected]
 *   --pattern mix     (default) N operations drawn from the patterns below, split over the threads
 *   --warm-up-fast F  first stream the layers (steady cycles) until the agent's statistics
 *                     (PIPELLM_STATS, rewritten every PIPELLM_STATS_INTERVAL_MS) show F fast-path
 *                     messages, at most 30 s: the part after it runs on a warm pipeline. With
 *                     --pattern steady, prints "steady measured fast=X h2d=Y": the agent's fast-path
 *                     and H2D messages of the C measured cycles alone.
 *   --pattern steady  FlexGen-style weight streaming only: C cycles over L layers, same order,
 *                     nothing else between them (the workload a pipeline must serve from its slots)
 *   --threads 2       a second host thread runs its own mix at the same time, on its own streams
 *                     and buffers (seed derived from S)
 *   --break-expected  corrupts one byte of the expected image before the first comparison: the
 *                     program must then report a mismatch and exit 1 (a test of the checker)
 *   BYTES accept K and M suffixes (binary).
 *
 * Patterns (mix): weight cycles over pinned or pageable layers (plain, or with one layer skipped,
 * one copied twice, two swapped, small fresh copies between layers, a partial copy of a layer);
 * KV blocks swapped out (D2H to a host slot) and back in (H2D, FIFO or LIFO, to the same or another
 * block), blocks rewritten on the device (memset, D2D) meanwhile; LoRA adapters (two parts each)
 * loaded into device slots, picked with reuse; bursts of small fresh copies (8..4096 bytes, pinned,
 * pageable, synchronous or not); 2D copies with source and destination pitches; CPU writes to a
 * layer between its cycles (the pre-encrypted slot goes stale); a second host thread scribbling
 * into a region of a layer while the layer is copied (bytes outside the region are checked, then
 * the region is copied again once the scribbler has stopped and everything is checked); a layer
 * freed and allocated again (usually at the same address) with new content and maybe a new size.
 *
 * Every device object has an expected image on the host. After each operation all of the thread's
 * streams are synchronised and what the operation wrote is read back (D2H on a stream, a
 * synchronous cudaMemcpy, D2D into a scratch buffer then D2H, or a 2D D2H) and compared; at the end
 * every device object is compared once more.
 *
 * Output: "mix thread=T ..." counts per thread, "mix h2d_copies=X h2d_bytes=Y", then
 * "mix seed=S ops=N verified_bytes=B ok"; exit 0. The figures depend only on the arguments.
 * A wrong byte: "mix seed=S MISMATCH thread=T op=K (what) ..." with the first differing offset,
 * exit 1. A CUDA error: "mix seed=S CUDA ERROR ...", exit 2. Bad arguments: exit 3.
 */
#define _GNU_SOURCE
#include <cuda_runtime_api.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXL 10          /* weight layers */
#define NKV 6            /* KV blocks on the device */
#define NSLOT 4          /* host swap slots */
#define NAD 4            /* LoRA adapters */
#define NADSLOT 2        /* device adapter slots */
#define NSTREAM 3
#define SCRATCH (64u << 10)   /* target of the small copies */
#define PITCHED (4u << 20)    /* 2D device buffer */
#define KIB 1024u
#define MIB (1024u * 1024u)

#include "agent_stats.h"

static unsigned long long seed = 1;
static long warm_up_fast = -1;
static long total_ops = 60, cycles = 10;
static int nthreads = 1, nlayers = 0, steady, break_expected;
static size_t layer_min = 256 * KIB, layer_max = 3 * MIB;
static atomic_int broke;   /* --break-expected done */

/* ---- random numbers: splitmix64 seeding a xorshift64* stream, one per thread ---- */

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

static size_t below(uint64_t *s, size_t n) { return n ? (size_t)(next(s) % n) : 0; }
static size_t between(uint64_t *s, size_t lo, size_t hi) { return lo + below(s, hi - lo + 1); }
static int chance(uint64_t *s, int percent) { return (int)below(s, 100) < percent; }

static void fill(uint64_t *s, unsigned char *p, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v = next(s);
        memcpy(p + i, &v, 8);
    }
    uint64_t v = next(s);
    for (; i < n; i++, v >>= 8) p[i] = (unsigned char)v;
}

/* ---- buffers ---- */

typedef struct {           /* a host buffer: p is the data (base + a small misalignment) */
    unsigned char *p;
    void *base;
    size_t n;
    int pinned;
} hbuf;

typedef struct {           /* a device buffer and the image it must hold */
    unsigned char *d;
    unsigned char *shadow;
    size_t n, cap;
} dbuf;

typedef struct worker {
    int id;
    uint64_t rng;
    long ops, op;
    const char *what;           /* the operation running, for messages */
    cudaStream_t s[NSTREAM];    /* s[0]: weights, s[1]: KV, s[2]: the rest */
    int nl;
    hbuf layer[MAXL];
    dbuf dlayer[MAXL];
    dbuf kv[NKV];
    hbuf slot[NSLOT];
    int slot_used[NSLOT];
    int queue[NSLOT], qlen, lifo;
    hbuf adA[NAD], adB[NAD];
    dbuf adslot[NADSLOT];
    int resident[NADSLOT], next_adslot;
    dbuf scratch, pitched, vscratch;
    hbuf fresh, src2d, src2d_pageable, check, check_pageable;
    size_t kv_bytes, maxobj;
    unsigned long long verified, h2d_copies, h2d_bytes, d2h_copies, reused_addresses, scribbles, stale_writes;
} worker;

static void cuda_failed(worker *w, cudaError_t e, const char *call, int line) {
    printf("mix seed=%llu CUDA ERROR thread=%d op=%ld (%s): %s = %s (%d) at line %d\n", seed, w ? w->id : -1,
           w ? w->op : -1L, w && w->what ? w->what : "setup", call, cudaGetErrorName(e), (int)e, line);
    fflush(stdout);
    exit(2);
}

#define CK(w, call)                                                   \
    do {                                                              \
        cudaError_t ck_e = (call);                                    \
        if (ck_e != cudaSuccess) cuda_failed((w), ck_e, #call, __LINE__); \
    } while (0)

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        printf("mix seed=%llu: out of host memory\n", seed);
        exit(2);
    }
    return p;
}

static void halloc(worker *w, hbuf *h, size_t n, int pinned) {
    size_t mis = chance(&w->rng, 25) ? between(&w->rng, 1, 63) : 0;   /* unaligned sources too */
    h->n = n;
    h->pinned = pinned;
    if (pinned) {
        if (chance(&w->rng, 50)) CK(w, cudaMallocHost(&h->base, n + mis));
        else CK(w, cudaHostAlloc(&h->base, n + mis, cudaHostAllocDefault));
    } else {
        h->base = xmalloc(n + mis);
    }
    h->p = (unsigned char *)h->base + mis;
}

static void hfree(worker *w, hbuf *h) {
    if (h->pinned) CK(w, cudaFreeHost(h->base));
    else free(h->base);
    h->base = h->p = NULL;
}

static void dalloc(worker *w, dbuf *b, size_t cap) {
    CK(w, cudaMalloc((void **)&b->d, cap));
    b->shadow = xmalloc(cap);
    b->cap = b->n = cap;
    unsigned char v = (unsigned char)next(&w->rng);
    CK(w, cudaMemset(b->d, v, cap));
    memset(b->shadow, v, cap);
}

static size_t layer_size(worker *w) {
    size_t n = between(&w->rng, layer_min, layer_max);
    return chance(&w->rng, 50) ? (n & ~(size_t)4095) + (n < 4096 ? 4096 : 0) : n;
}

/* ---- copies that keep the expected image ---- */

static cudaStream_t pick_stream(worker *w) { return w->s[below(&w->rng, NSTREAM)]; }

/* H2D of n bytes from src to b at off: on stream s, or synchronous when s is NULL and sync is set. The
 * image takes src as it is now: the caller does not touch src until the next settle(). */
static void h2d(worker *w, dbuf *b, size_t off, const unsigned char *src, size_t n, cudaStream_t s, int sync) {
    if (sync) CK(w, cudaMemcpy(b->d + off, src, n, cudaMemcpyHostToDevice));
    else CK(w, cudaMemcpyAsync(b->d + off, src, n, cudaMemcpyHostToDevice, s));
    memcpy(b->shadow + off, src, n);
    w->h2d_copies++;
    w->h2d_bytes += n;
}

static void settle(worker *w) {
    for (int i = 0; i < NSTREAM; i++) CK(w, cudaStreamSynchronize(w->s[i]));
}

static void mismatch(worker *w, const char *obj, size_t off, size_t n, const unsigned char *want,
                     const unsigned char *got) {
    size_t i = 0;
    while (i < n && want[i] == got[i]) i++;
    size_t j = i;
    while (j < n && want[j] != got[j]) j++;
    printf("mix seed=%llu MISMATCH thread=%d op=%ld (%s) object=%s: first wrong byte at offset %zu of %zu"
           " (expected 0x%02x, got 0x%02x; %zu wrong bytes from there)\n",
           seed, w->id, w->op, w->what, obj, off + i, off + n, want[i], got[i], j - i);
    fflush(stdout);
    exit(1);
}

static void maybe_break(unsigned char *expected, size_t n) {
    int no = 0;
    if (break_expected && n && atomic_compare_exchange_strong(&broke, &no, 1)) expected[n / 2] ^= 0x5a;
}

/* Reads b[off, off+n) back (settled first) and compares it with the image, skipping [skip_lo, skip_hi)
 * (a region the app wrote during its copy). */
static void check_range_except(worker *w, dbuf *b, size_t off, size_t n, const char *obj, size_t skip_lo,
                               size_t skip_hi) {
    if (!n) return;
    settle(w);
    hbuf *h = chance(&w->rng, 70) ? &w->check : &w->check_pageable;
    cudaStream_t s = pick_stream(w);
    switch (below(&w->rng, 3)) {
    case 0:
        CK(w, cudaMemcpyAsync(h->p, b->d + off, n, cudaMemcpyDeviceToHost, s));
        CK(w, cudaStreamSynchronize(s));
        break;
    case 1:
        CK(w, cudaMemcpy(h->p, b->d + off, n, cudaMemcpyDeviceToHost));
        break;
    default:   /* device -> device -> host */
        CK(w, cudaMemcpyAsync(w->vscratch.d, b->d + off, n, cudaMemcpyDeviceToDevice, s));
        CK(w, cudaMemcpyAsync(h->p, w->vscratch.d, n, cudaMemcpyDeviceToHost, s));
        CK(w, cudaStreamSynchronize(s));
        break;
    }
    w->d2h_copies++;
    if (skip_hi > skip_lo) {
        size_t lo = skip_lo - off, hi = skip_hi - off;
        if (memcmp(h->p, b->shadow + off, lo)) mismatch(w, obj, off, lo, b->shadow + off, h->p);
        if (memcmp(h->p + hi, b->shadow + off + hi, n - hi))
            mismatch(w, obj, off + hi, n - hi, b->shadow + off + hi, h->p + hi);
        w->verified += n - (hi - lo);
    } else {
        maybe_break(b->shadow + off, n);
        if (memcmp(h->p, b->shadow + off, n)) mismatch(w, obj, off, n, b->shadow + off, h->p);
        w->verified += n;
    }
}

static void check_range(worker *w, dbuf *b, size_t off, size_t n, const char *obj) {
    check_range_except(w, b, off, n, obj, 0, 0);
}

static void check_all(worker *w, dbuf *b, const char *obj) { check_range(w, b, 0, b->n, obj); }

/* ---- patterns ---- */

static void copy_layer(worker *w, int i) {
    /* FlexGen streams weights on one stream; in the mix, now and then a synchronous copy */
    h2d(w, &w->dlayer[i], 0, w->layer[i].p, w->layer[i].n, w->s[0], !steady && chance(&w->rng, 5));
}

static void small_copies(worker *w, int k) {
    /* k fresh copies of 8..4096 bytes into the scratch buffer, one stream (or synchronous) per burst;
     * each from its own part of the fresh buffer, or from a pageable buffer of its own */
    cudaStream_t s = pick_stream(w);
    int sync = chance(&w->rng, 20);
    size_t used = 0;
    unsigned char *tmp[8] = {0};
    for (int c = 0; c < k; c++) {
        size_t n = between(&w->rng, 8, 4096), off = below(&w->rng, SCRATCH - n + 1);
        const unsigned char *src;
        if (chance(&w->rng, 30)) {
            tmp[c] = xmalloc(n);
            fill(&w->rng, tmp[c], n);
            src = tmp[c];
        } else {
            fill(&w->rng, w->fresh.p + used, n);
            src = w->fresh.p + used;
            used += n;
        }
        h2d(w, &w->scratch, off, src, n, s, sync);
    }
    settle(w);
    for (int c = 0; c < k; c++) free(tmp[c]);
}

static void weight_cycle(worker *w) {
    int order[MAXL * 2], n = 0, variant = (int)below(&w->rng, 10);
    for (int i = 0; i < w->nl; i++) order[n++] = i;
    int a = (int)below(&w->rng, (size_t)w->nl), b = (int)below(&w->rng, (size_t)w->nl);
    switch (variant) {
    case 5: w->what = "weight cycle, one layer skipped";   /* a missing copy */
        memmove(order + a, order + a + 1, (size_t)(n - a - 1) * sizeof order[0]);
        n--;
        break;
    case 6: w->what = "weight cycle, one layer twice";     /* an extra copy, right after or at the end */
        if (chance(&w->rng, 50)) {
            memmove(order + a + 1, order + a, (size_t)(n - a) * sizeof order[0]);
            n++;
        } else {
            order[n++] = a;
        }
        break;
    case 7: w->what = "weight cycle, two layers swapped";
        order[a] = b;
        order[b] = a;
        break;
    case 8: w->what = "weight cycle with small copies between layers"; break;
    case 9: w->what = "weight cycle with a partial layer copy"; break;
    default: w->what = "weight cycle"; break;
    }
    for (int k = 0; k < n; k++) {
        int i = order[k];
        if (variant == 9 && i == a) {
            size_t lo = below(&w->rng, w->layer[i].n), hi = between(&w->rng, lo + 1, w->layer[i].n);
            h2d(w, &w->dlayer[i], lo, w->layer[i].p + lo, hi - lo, w->s[0], 0);
        } else {
            copy_layer(w, i);
        }
        if (variant == 8 && chance(&w->rng, 50)) small_copies(w, (int)between(&w->rng, 1, 3));
    }
    settle(w);
    for (int i = 0; i < w->nl; i++) check_all(w, &w->dlayer[i], "layer");
    if (variant == 8) check_all(w, &w->scratch, "scratch");
}

static void modify_layer(worker *w) {
    /* a CPU write to a layer between two of its copies: what was encrypted ahead is stale now */
    w->what = "CPU write to a layer between cycles";
    hbuf *h = &w->layer[below(&w->rng, (size_t)w->nl)];
    size_t n = h->n, off, len;
    switch (below(&w->rng, 6)) {
    case 0: off = below(&w->rng, n); len = 1; break;                    /* one byte */
    case 1: off = 0; len = 1; break;                                    /* the first byte */
    case 2: off = n - 1; len = 1; break;                                /* the last byte */
    case 3: off = n > MIB ? MIB - 8 : n / 2; len = n - off < 16 ? n - off : 16; break; /* across a chunk edge */
    case 4: off = 0; len = n; break;                                    /* all of it */
    default: off = below(&w->rng, n); len = between(&w->rng, 1, n - off < 65536 ? n - off : 65536); break;
    }
    for (size_t i = 0; i < len; i++) h->p[off + i] ^= (unsigned char)(1 + below(&w->rng, 255));
    w->stale_writes++;
}

static void free_and_reuse(worker *w) {
    /* a layer freed and allocated again (mmap gives the same address back when the size allows), new
     * content, maybe a new size; the next copy of that address must take the new bytes */
    w->what = "free a layer and allocate it again";
    int i = (int)below(&w->rng, (size_t)w->nl);
    hbuf *h = &w->layer[i];
    void *old = h->p;
    size_t n = chance(&w->rng, 70) ? h->n : layer_size(w);
    int pinned = chance(&w->rng, 85) ? h->pinned : !h->pinned;
    settle(w);
    hfree(w, h);
    halloc(w, h, n, pinned);
    if ((void *)h->p == old) w->reused_addresses++;
    fill(&w->rng, h->p, n);
    w->dlayer[i].n = n;
    if (chance(&w->rng, 50)) {
        copy_layer(w, i);
        check_all(w, &w->dlayer[i], "layer after reuse");
    }
}

typedef struct {
    volatile unsigned char *p;
    size_t n;
    uint64_t rng;
    atomic_int started, stop;
} scribbler;

static void *scribble(void *arg) {
    scribbler *sc = arg;
    long rounds = 0;
    while (!atomic_load(&sc->stop) || rounds < 1) {
        for (size_t i = 0; i < sc->n; i += 1 + below(&sc->rng, 64)) sc->p[i] = (unsigned char)next(&sc->rng);
        if (!rounds++) atomic_store(&sc->started, 1);
    }
    return NULL;
}

static void scribbled_copy(worker *w) {
    /* another thread writes into a region of a layer while the layer is copied: outside the region
     * the device must hold the layer's bytes; after the scribbler stopped, the region (or the layer)
     * is copied again and then everything must match */
    w->what = "copy while another thread writes into the source";
    int i = (int)below(&w->rng, (size_t)w->nl);
    hbuf *h = &w->layer[i];
    size_t r = between(&w->rng, 1, h->n < 65536 ? h->n : 65536), a = below(&w->rng, h->n - r + 1);
    scribbler sc = {.p = h->p + a, .n = r, .rng = next(&w->rng) | 1};
    pthread_t t;
    settle(w);
    if (pthread_create(&t, NULL, scribble, &sc)) cuda_failed(w, cudaErrorUnknown, "pthread_create", __LINE__);
    while (!atomic_load(&sc.started)) sched_yield();
    CK(w, cudaMemcpyAsync(w->dlayer[i].d, h->p, h->n, cudaMemcpyHostToDevice, w->s[0]));
    w->h2d_copies++;
    w->h2d_bytes += h->n;
    CK(w, cudaStreamSynchronize(w->s[0]));
    atomic_store(&sc.stop, 1);
    pthread_join(t, NULL);
    w->scribbles++;
    memcpy(w->dlayer[i].shadow, h->p, h->n);   /* outside [a, a+r) the layer did not change */
    check_range_except(w, &w->dlayer[i], 0, h->n, "layer being written during its copy", a, a + r);
    if (chance(&w->rng, 50)) h2d(w, &w->dlayer[i], a, h->p + a, r, w->s[0], 0);
    else copy_layer(w, i);
    check_all(w, &w->dlayer[i], "layer copied again after the writes");
}

static void kv_swap_out(worker *w) {
    /* vLLM: a KV block goes to a free host slot (D2H), and the block is reused on the device */
    w->what = "KV swap out";
    int k;
    for (k = 0; k < NSLOT && w->slot_used[k]; k++) ;
    if (k == NSLOT) return;
    int b = (int)below(&w->rng, NKV);
    dbuf *blk = &w->kv[b];
    cudaStream_t s = w->s[1];
    CK(w, cudaMemcpyAsync(w->slot[k].p, blk->d, w->kv_bytes, cudaMemcpyDeviceToHost, s));
    CK(w, cudaStreamSynchronize(s));
    w->d2h_copies++;
    maybe_break(blk->shadow, w->kv_bytes);
    if (memcmp(w->slot[k].p, blk->shadow, w->kv_bytes)) mismatch(w, "KV slot", 0, w->kv_bytes, blk->shadow, w->slot[k].p);
    w->verified += w->kv_bytes;
    w->slot_used[k] = 1;
    w->queue[w->qlen++] = k;
    /* the block gets new content on the device: memset, or a D2D copy from another block, in part */
    size_t off = below(&w->rng, w->kv_bytes), len = between(&w->rng, 1, w->kv_bytes - off);
    if (chance(&w->rng, 50)) {
        unsigned char v = (unsigned char)next(&w->rng);
        CK(w, cudaMemsetAsync(blk->d + off, v, len, s));
        memset(blk->shadow + off, v, len);
    } else {
        dbuf *from = &w->kv[(b + 1 + (int)below(&w->rng, NKV - 1)) % NKV];
        CK(w, cudaMemcpyAsync(blk->d + off, from->d + off, len, cudaMemcpyDeviceToDevice, s));
        memcpy(blk->shadow + off, from->shadow + off, len);
    }
    check_all(w, blk, "KV block rewritten on the device");
}

static void kv_swap_in(worker *w) {
    /* back in, in FIFO or LIFO order, to the same or another block */
    w->what = "KV swap in";
    if (!w->qlen) return;
    int k;
    if (w->lifo != chance(&w->rng, 15)) {
        k = w->queue[--w->qlen];
    } else {
        k = w->queue[0];
        memmove(w->queue, w->queue + 1, (size_t)--w->qlen * sizeof w->queue[0]);
    }
    dbuf *blk = &w->kv[below(&w->rng, NKV)];
    h2d(w, blk, 0, w->slot[k].p, w->kv_bytes, w->s[1], 0);
    w->slot_used[k] = 0;
    check_all(w, blk, "KV block swapped in");
}

static void lora_load(worker *w) {
    /* an adapter (two parts) loaded into a device slot unless resident; adapters 0 and 1 are hot */
    w->what = "LoRA adapter load";
    int a = chance(&w->rng, 60) ? (int)below(&w->rng, 2) : (int)below(&w->rng, NAD);
    int slot = -1;
    for (int i = 0; i < NADSLOT; i++)
        if (w->resident[i] == a) slot = i;
    if (slot >= 0 && !chance(&w->rng, 30)) return;   /* resident: nothing to copy (usually) */
    if (slot < 0) {
        slot = w->next_adslot;
        w->next_adslot = (w->next_adslot + 1) % NADSLOT;
    }
    dbuf *d = &w->adslot[slot];
    cudaStream_t s = w->s[2];
    h2d(w, d, 0, w->adA[a].p, w->adA[a].n, s, 0);
    h2d(w, d, w->adA[a].n, w->adB[a].p, w->adB[a].n, s, 0);
    w->resident[slot] = a;
    check_range(w, d, 0, w->adA[a].n + w->adB[a].n, "LoRA slot");
}

static void copy_2d(worker *w) {
    /* rows of width bytes, pitched on both sides, several rows per GCM message */
    w->what = "2D copy";
    size_t width = between(&w->rng, 16 * KIB, 256 * KIB), height = between(&w->rng, 2, 12);
    if (width * height > 5 * MIB / 2) height = 5 * MIB / 2 / width;
    size_t spitch = width + (chance(&w->rng, 30) ? 0 : between(&w->rng, 1, 4096));
    size_t dpitch = width + (chance(&w->rng, 30) ? 0 : 16 * between(&w->rng, 1, 256));
    size_t doff = 16 * below(&w->rng, 64);
    hbuf *src = chance(&w->rng, 70) ? &w->src2d : &w->src2d_pageable;
    fill(&w->rng, src->p, spitch * height);
    dbuf *d = &w->pitched;
    cudaStream_t s = pick_stream(w);
    if (chance(&w->rng, 15)) CK(w, cudaMemcpy2D(d->d + doff, dpitch, src->p, spitch, width, height, cudaMemcpyHostToDevice));
    else CK(w, cudaMemcpy2DAsync(d->d + doff, dpitch, src->p, spitch, width, height, cudaMemcpyHostToDevice, s));
    for (size_t r = 0; r < height; r++) memcpy(d->shadow + doff + r * dpitch, src->p + r * spitch, width);
    w->h2d_copies++;
    w->h2d_bytes += width * height;
    size_t span = dpitch * (height - 1) + width;
    if (chance(&w->rng, 30)) {   /* back with a 2D D2H into yet another pitch */
        size_t hp = width + between(&w->rng, 0, 512);
        settle(w);
        CK(w, cudaMemcpy2DAsync(w->check.p, hp, d->d + doff, dpitch, width, height, cudaMemcpyDeviceToHost, s));
        CK(w, cudaStreamSynchronize(s));
        w->d2h_copies++;
        for (size_t r = 0; r < height; r++) {
            maybe_break(d->shadow + doff + r * dpitch, width);
            if (memcmp(w->check.p + r * hp, d->shadow + doff + r * dpitch, width))
                mismatch(w, "2D rows", doff + r * dpitch, width, d->shadow + doff + r * dpitch, w->check.p + r * hp);
        }
        w->verified += width * height;
    }
    check_range(w, d, doff, span, "pitched buffer (rows and the gaps between them)");
}

static void small_burst(worker *w) {
    w->what = "small fresh copies";
    small_copies(w, (int)between(&w->rng, 1, 8));
    check_all(w, &w->scratch, "scratch");
}

/* ---- one thread's run ---- */

static void setup(worker *w) {
    w->what = "setup";
    CK(w, cudaStreamCreate(&w->s[0]));
    CK(w, cudaStreamCreateWithFlags(&w->s[1], cudaStreamNonBlocking));
    CK(w, cudaStreamCreateWithFlags(&w->s[2], w->id ? cudaStreamNonBlocking : cudaStreamDefault));
    w->nl = nlayers ? nlayers : (int)between(&w->rng, 3, 6);
    w->maxobj = PITCHED;
    for (int i = 0; i < w->nl; i++) {
        halloc(w, &w->layer[i], layer_size(w), steady || chance(&w->rng, 80));   /* mostly pinned */
        fill(&w->rng, w->layer[i].p, w->layer[i].n);
        dalloc(w, &w->dlayer[i], layer_max);
        w->dlayer[i].n = w->layer[i].n;
    }
    w->kv_bytes = between(&w->rng, 256 * KIB, MIB + MIB / 4);
    for (int i = 0; i < NKV; i++) dalloc(w, &w->kv[i], w->kv_bytes);
    for (int i = 0; i < NSLOT; i++) halloc(w, &w->slot[i], w->kv_bytes, chance(&w->rng, 75));
    w->lifo = chance(&w->rng, 50);
    size_t ad_max = 0;
    for (int a = 0; a < NAD; a++) {
        halloc(w, &w->adA[a], between(&w->rng, 64 * KIB, MIB), 1);
        halloc(w, &w->adB[a], between(&w->rng, 8 * KIB, MIB / 2), chance(&w->rng, 70));
        fill(&w->rng, w->adA[a].p, w->adA[a].n);
        fill(&w->rng, w->adB[a].p, w->adB[a].n);
        if (w->adA[a].n + w->adB[a].n > ad_max) ad_max = w->adA[a].n + w->adB[a].n;
    }
    for (int i = 0; i < NADSLOT; i++) {
        dalloc(w, &w->adslot[i], ad_max);
        w->resident[i] = -1;
    }
    dalloc(w, &w->scratch, SCRATCH);
    dalloc(w, &w->pitched, PITCHED);
    dalloc(w, &w->vscratch, w->maxobj);
    halloc(w, &w->fresh, 8 * 4096, 1);
    halloc(w, &w->src2d, PITCHED, 1);
    halloc(w, &w->src2d_pageable, PITCHED, 0);
    halloc(w, &w->check, w->maxobj, 1);
    halloc(w, &w->check_pageable, w->maxobj, 0);
    CK(w, cudaStreamSynchronize(NULL));   /* the memsets of dalloc, before copies on non-blocking streams */
}

static void final_check(worker *w) {
    w->what = "final check of every device object";
    for (int i = 0; i < w->nl; i++) check_all(w, &w->dlayer[i], "layer");
    for (int i = 0; i < NKV; i++) check_all(w, &w->kv[i], "KV block");
    for (int i = 0; i < NADSLOT; i++) check_all(w, &w->adslot[i], "LoRA slot");
    check_all(w, &w->scratch, "scratch");
    w->pitched.n = PITCHED;
    check_all(w, &w->pitched, "pitched buffer");
}

static void run_mix(worker *w) {
    /* weights 4, KV out 2, KV in 2, LoRA 2, small 2, 2D 1, stale write 2, free/reuse 1, scribble 1 */
    static const int weights[] = {4, 2, 2, 2, 2, 1, 2, 1, 1};
    int sum = 0;
    for (size_t i = 0; i < sizeof weights / sizeof weights[0]; i++) sum += weights[i];
    for (w->op = 0; w->op < w->ops; w->op++) {
        int r = (int)below(&w->rng, (size_t)sum), k = 0;
        while (r >= weights[k]) r -= weights[k++];
        switch (k) {
        case 0: weight_cycle(w); break;
        case 1: kv_swap_out(w); break;
        case 2: kv_swap_in(w); break;
        case 3: lora_load(w); break;
        case 4: small_burst(w); break;
        case 5: copy_2d(w); break;
        case 6: modify_layer(w); break;
        case 7: free_and_reuse(w); break;
        default: scribbled_copy(w); break;
        }
    }
}

static void run_steady(worker *w) {
    for (w->op = 0; w->op < w->ops; w->op++) {
        w->what = "steady weight cycle";
        for (int i = 0; i < w->nl; i++) copy_layer(w, i);
        settle(w);
        for (int i = 0; i < w->nl; i++) check_all(w, &w->dlayer[i], "layer");
    }
}

/* Steady cycles until the agent reports warm_up_fast fast-path messages (bounded). */
static void warm_up(worker *w) {
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long cycles_done = 0;
    for (;;) {
        w->what = "warm-up weight cycle";
        for (int i = 0; i < w->nl; i++) copy_layer(w, i);
        settle(w);
        cycles_done++;
        if (agent_stat("fast_path_messages") >= warm_up_fast) break;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 30) {
            printf("mix warm-up: no %ld fast-path messages after 30 s (%ld cycles)\n", warm_up_fast, cycles_done);
            return;
        }
    }
    printf("mix warm-up: %ld cycles\n", cycles_done);
}

static void *run_worker(void *arg) {
    worker *w = arg;
    setup(w);
    if (warm_up_fast >= 0 && w->id == 0) warm_up(w);
    long fast0 = 0, h2d0 = 0;
    if (steady && warm_up_fast >= 0) {
        agent_stats_settle();
        fast0 = agent_stat("fast_path_messages");
        h2d0 = agent_stat("h2d_messages");
    }
    if (steady) run_steady(w);
    else run_mix(w);
    if (steady && warm_up_fast >= 0) {
        agent_stats_settle();
        printf("steady measured fast=%ld h2d=%ld\n", agent_stat("fast_path_messages") - fast0,
               agent_stat("h2d_messages") - h2d0);
    }
    final_check(w);
    return NULL;
}

static size_t parse_bytes(const char *v) {
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (*end == 'k' || *end == 'K') n <<= 10, end++;
    else if (*end == 'm' || *end == 'M') n <<= 20, end++;
    if (*end || !n) {
        fprintf(stderr, "prog_pipeline_mix: bad size '%s'\n", v);
        exit(3);
    }
    return (size_t)n;
}

static void usage(void) {
    fprintf(stderr, "usage: prog_pipeline_mix [--seed S] [--ops N] [--threads 1|2] [--pattern mix|steady] [--cycles C]"
                    " [--layers L] [--layer-min BYTES] [--layer-max BYTES] [--warm-up-fast F] [--break-expected]\n");
    exit(3);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--break-expected")) { break_expected = 1; continue; }
        if (!v) usage();
        i++;
        if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 0);
        else if (!strcmp(a, "--ops")) total_ops = atol(v);
        else if (!strcmp(a, "--cycles")) cycles = atol(v);
        else if (!strcmp(a, "--threads")) nthreads = atoi(v);
        else if (!strcmp(a, "--layers")) nlayers = atoi(v);
        else if (!strcmp(a, "--layer-min")) layer_min = parse_bytes(v);
        else if (!strcmp(a, "--layer-max")) layer_max = parse_bytes(v);
        else if (!strcmp(a, "--warm-up-fast")) warm_up_fast = atol(v);
        else if (!strcmp(a, "--pattern") && (!strcmp(v, "mix") || !strcmp(v, "steady"))) steady = !strcmp(v, "steady");
        else usage();
    }
    if (nthreads < 1 || nthreads > 2 || nlayers < 0 || nlayers > MAXL || total_ops < 0 || cycles < 0 ||
        layer_min > layer_max || layer_max > PITCHED)
        usage();
    static worker ws[2];
    pthread_t t;
    for (int i = 0; i < nthreads; i++) {
        uint64_t x = seed * 2 + (uint64_t)i;
        ws[i].id = i;
        ws[i].rng = splitmix(&x) | 1;
        ws[i].ops = steady ? cycles : total_ops / nthreads + (i < total_ops % nthreads);
    }
    if (nthreads == 2 && pthread_create(&t, NULL, run_worker, &ws[1])) return 2;
    run_worker(&ws[0]);
    if (nthreads == 2) pthread_join(t, NULL);
    unsigned long long verified = 0, copies = 0, bytes = 0;
    long ops = 0;
    for (int i = 0; i < nthreads; i++) {
        worker *w = &ws[i];
        printf("mix thread=%d ops=%ld layers=%d h2d_copies=%llu h2d_bytes=%llu d2h_checks=%llu stale_writes=%llu"
               " scribbles=%llu reused_addresses=%llu\n",
               w->id, w->ops, w->nl, w->h2d_copies, w->h2d_bytes, w->d2h_copies, w->stale_writes, w->scribbles,
               w->reused_addresses);
        verified += w->verified;
        copies += w->h2d_copies;
        bytes += w->h2d_bytes;
        ops += w->ops;
    }
    printf("mix h2d_copies=%llu h2d_bytes=%llu\n", copies, bytes);
    printf("mix seed=%llu ops=%ld verified_bytes=%llu ok\n", seed, ops, verified);
    return 0;
}
