/*
 * simgpu internals: one simulated H100 (one context) shared by every translation unit.
 *
 * Threads and locks (always taken in this order, never the reverse):
 *   driver_mu         of an H2D channel (the context's, or a stream's with SIMGPU_H2D_CHANNELS=
 *                     per-stream): serialises the "driver" part for a whole copy, so that stream
 *                     order and IV order agree (an op is enqueued only while its producer holds it);
 *   g.mu / g.cv       scheduling: stream queues, completion counters, events, handle registries;
 *   g.cc_mu / cc_cv   CC hand-offs: bounce slots, message publication, driver/CE turn order.
 * No lock is held while doing crypto, copying data or sleeping.
 */
#ifndef SIMGPU_INTERNAL_H
#define SIMGPU_INTERNAL_H

#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "simgpu.h"

/*
 * The exported API. An exported function can be interposed (PipeLLM's shim does), so simgpu never
 * calls one itself: a call from inside goes to a static or hidden function, else an interposer
 * would count one cudaMallocHost as a cudaMallocHost and a cudaHostAlloc. (The driver part's EVP
 * calls are the opposite: they go through the dynamic linker on purpose.) Tested by
 * simgpu_no_internal_plt (relocations) and simgpu_internal_calls_counted_* (an interposer).
 */
#define SIMGPU_API __attribute__((visibility("default")))

/* ---- configuration (simgpu_config.c) ---- */
typedef struct simgpu_config {
    int cc_on;                      /* SIMGPU_CC */
    double pcie_gbps;               /* SIMGPU_PCIE_GBPS, decimal GB/s per direction */
    double d2d_gbps;                /* SIMGPU_D2D_GBPS */
    uint64_t copy_latency_ns;       /* SIMGPU_COPY_LATENCY_NS */
    uint64_t memory_bytes;          /* SIMGPU_MEMORY_BYTES */
    uint64_t chunk_bytes;           /* SIMGPU_CC_CHUNK_BYTES */
    uint64_t bounce_pool_bytes;     /* SIMGPU_BOUNCE_POOL_BYTES */
    uint64_t verify_every;          /* SIMGPU_VERIFY: 1 = full, N = sampled:N */
    uint64_t key_rotation_bytes;    /* SIMGPU_KEY_ROTATION_BYTES */
    uint64_t iv_rotation_messages;  /* SIMGPU_IV_ROTATION_MESSAGES */
    char stats_path[4096];          /* SIMGPU_STATS, empty = none */
    int h2d_per_stream;             /* SIMGPU_H2D_CHANNELS: 0 per-context, 1 per-stream */
    char ledger_path[4096];         /* SIMGPU_LEDGER, empty = none */
    int ledger_fd;                  /* opened O_APPEND by simgpu_config_load; -1 = none */
    int log_level;                  /* SIMGPU_LOG */
} simgpu_config;

/* Parses every SIMGPU_* variable; on error writes one line naming the variable and returns -1. */
int simgpu_config_load(simgpu_config *out);

/* ---- logging (simgpu_log.c): one line, stack buffer, write(2); never keys or data ---- */
enum { SIMGPU_LOG_QUIET = 0, SIMGPU_LOG_ERROR = 1, SIMGPU_LOG_INFO = 2, SIMGPU_LOG_DEBUG = 3 };
void simgpu_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- time (simgpu_time.c) ---- */
uint64_t simgpu_now_ns(void);
void simgpu_sleep_until(uint64_t deadline_ns);
uint64_t simgpu_transfer_ns(uint64_t bytes, double gbps);

/* Condition waits that spin briefly before blocking, as the CUDA runtime's default sync does:
 * a futex wake-up costs tens of microseconds here, more than a small copy's modelled time.
 * The mutex is held on entry and exit; wake calls must be made with the mutex held. */
void simgpu_wait_sched(void);
void simgpu_wake_sched(void);
void simgpu_wait_cc(void);
void simgpu_wake_cc(void);

/* ---- errors (simgpu_error.c) ---- */
cudaError_t simgpu_ret(cudaError_t err);          /* records err as the thread's last error */
/* The thread's runtime last error, which driver API calls leave as they found it. */
cudaError_t *simgpu_last_error_slot(void);
/* Set while a driver API call runs the core on this thread (simgpu_driver.c); otherwise a call into
 * the core is the runtime's, and makes the primary context current for the driver API as cudart does. */
extern __thread int simgpu_in_driver, simgpu_runtime_used;
const char *simgpu_error_name(cudaError_t err);   /* what cudaGetErrorName answers */

/* ---- device memory arena and pinned host registry (simgpu_memory.c) ---- */
int simgpu_memory_init(uint64_t bytes);
int simgpu_is_device_ptr(const void *p);
/* 1 if [p, p+n) lies inside one live device allocation. */
int simgpu_device_range_valid(const void *p, size_t n);
/* 1 if [p, p+n) lies inside one cudaHostAlloc/cudaMallocHost block. */
int simgpu_pinned_range(const void *p, size_t n);
void simgpu_memory_reset(void);
uint64_t simgpu_memory_used(void);

/* ---- streams, ops, events (simgpu_stream.c) ---- */
enum simgpu_dir { DIR_H2H = 0, DIR_H2D = 1, DIR_D2H = 2, DIR_D2D = 3 };

typedef struct simgpu_copy {
    char *dst;
    const char *src;
    size_t dpitch, spitch, width, height; /* 1D copies: height 1 */
    int dir;
} simgpu_copy;

typedef struct simgpu_msg {      /* one CC GCM message of an op */
    int slot;
    uint64_t seq;                /* position in the channel's message order */
    size_t offset, len;          /* in the packed byte stream of the copy */
    unsigned char tag[16];
} simgpu_msg;

enum simgpu_op_kind { OP_COPY, OP_MEMSET, OP_COMPUTE, OP_HOST_FN, OP_STREAM_CB, OP_RECORD, OP_WAIT };

typedef struct simgpu_event simgpu_event;
typedef struct simgpu_stream simgpu_stream;
struct cc_channel;               /* simgpu_cc.c */

typedef struct simgpu_op {
    enum simgpu_op_kind kind;
    uint64_t seq;                /* per-stream sequence number */
    uint64_t submit_ns;
    _Atomic int refs;            /* the stream's, plus the D2H driver's while it decrypts */
    struct simgpu_op *next;
    union {
        struct {
            simgpu_copy c;
            int cc;                  /* goes through the CC channel */
            struct cc_channel *chan; /* CC H2D: the channel its messages were encrypted on */
            simgpu_msg *msgs;        /* CC: n_msgs entries */
            size_t n_msgs;
            size_t produced;         /* guarded by g.cc_mu */
            size_t consumed;         /* D2H: by the driver; guarded by g.cc_mu */
        } copy;
        struct { char *dst; unsigned value; size_t n; int elem; } memset;   /* n bytes of elem-byte values */
        struct { uint64_t ns; } compute;
        struct { cudaHostFn_t fn; void *user; } host;
        struct { cudaStreamCallback_t fn; void *user; simgpu_stream *stream; } cb;
        struct { simgpu_event *ev; uint64_t gen; } record;
        struct { simgpu_event *ev; uint64_t gen; } wait;
    } u;
} simgpu_op;

struct simgpu_stream {
    unsigned flags;
    int priority;
    int is_legacy;
    int is_per_thread;           /* cudaStreamPerThread of one thread: survives cudaDeviceReset */
    int destroyed;
    int refs;                    /* guarded by g.mu */
    simgpu_op *head, *tail;
    int executing;               /* an op is running (worker or inline) */
    uint64_t submitted, completed;
    uint64_t last_end_ns;        /* modelled end of the last completed op */
    pthread_t worker;
    simgpu_event *fence;         /* internal event for implicit legacy-stream synchronisation */
    struct cc_channel *h2d_chan; /* SIMGPU_H2D_CHANNELS=per-stream: its H2D channel, opened on its
                                    first H2D copy; guarded by g.cc_mu */
};

struct simgpu_event {
    unsigned flags;
    int internal;
    int refs;                    /* guarded by g.mu */
    uint64_t gen_recorded, gen_done;
    uint64_t time_ns;
};

/* Resolves an API stream handle (NULL, cudaStreamLegacy, cudaStreamPerThread or a created one).
 * Returns NULL for an unknown handle. Takes a reference; release with simgpu_stream_put. */
simgpu_stream *simgpu_stream_get(cudaStream_t s);
void simgpu_stream_put(simgpu_stream *s);
simgpu_event *simgpu_event_lookup(cudaEvent_t e);   /* g.mu must be held */

simgpu_op *simgpu_op_new(enum simgpu_op_kind kind);
void simgpu_op_release(simgpu_op *op);
/* Enqueues op (taking ownership) with the implicit legacy-stream waits; returns its sequence. */
uint64_t simgpu_submit(simgpu_stream *s, simgpu_op *op);
/* Runs op on the calling thread when the stream is idle (synchronous ops only); returns 1 when it
 * did, 0 when the op must be submitted instead. */
int simgpu_try_inline(simgpu_stream *s, simgpu_op *op);
void simgpu_wait_seq(simgpu_stream *s, uint64_t seq);
int simgpu_streams_init(void);
void simgpu_streams_reset(void);
void simgpu_device_synchronize_all(void);

/* Model time: start of an op on stream s using an engine (or none). */
uint64_t simgpu_engine_reserve(int dir, uint64_t earliest_ns, uint64_t duration_ns);
void simgpu_engine_release(int dir, uint64_t real_end_ns);

/* ---- copies (simgpu_copy.c) ---- */
void simgpu_copy_execute_plain(const simgpu_copy *c);
size_t simgpu_copy_bytes(const simgpu_copy *c);
/* Copies len bytes of the packed stream starting at off out of (or into) a 2D region. */
void simgpu_gather(const simgpu_copy *c, int from_src, size_t off, size_t len, char *out);
void simgpu_scatter(const simgpu_copy *c, size_t off, size_t len, const char *in);

/* Device memset of `count` elements of `elem` bytes (1, 2 or 4) each `value`, asynchronous to the
 * host (cudaMemset*, cuMemsetD8/D16/D32*). */
cudaError_t simgpu_memset(void *dst, unsigned value, size_t count, int elem, cudaStream_t stream);

/* ---- CC (simgpu_cc.c) ---- */
int simgpu_cc_init(void);
void simgpu_cc_reset(void);
/* Host side of a CC copy, on the calling thread: H2D encrypts every message (through the
 * dynamic linker), D2H decrypts them. Returns cudaSuccess or the sticky error. */
cudaError_t simgpu_cc_h2d_submit(simgpu_stream *s, simgpu_op *op, uint64_t *seq_out);
cudaError_t simgpu_cc_d2h_submit(simgpu_stream *s, simgpu_op *op, uint64_t *seq_out);
/* Copy-engine side, on the stream worker. */
void simgpu_cc_execute(simgpu_op *op);
/* The stream is being freed (no op of it is left): closes its H2D channel, if it has one, zeroing
 * its keys. Called with g.mu held (takes g.cc_mu). */
void simgpu_cc_stream_free(simgpu_stream *s);
/* Sets the sticky error (the first one wins) and wakes every waiter; `why` goes to stderr once,
 * NULL for a context that ends without a fault (the process is exiting). */
void simgpu_poison(cudaError_t err, const char *why);
cudaError_t simgpu_poisoned(void);

/* ---- process exit (simgpu_exit.c): what exit() may tear down is never in use ---- */
void simgpu_exit_init(void);             /* at the end of init: pins simgpu, registers the exit handler */
void simgpu_exit_init_finished(void);    /* g.cfg is complete (init succeeded or failed) */
void simgpu_exit_after_fork(void);
int simgpu_exiting(void);                /* the exit handler ran: the process is ending */
/* Once exiting, on any thread but the exiting one: waits for the process to end; returns only if
 * it is still there much later, after ending the context (sticky cudaErrorCudartUnloading). */
void simgpu_exit_wait(void);
cudaError_t simgpu_exit_refuse(void);    /* simgpu_exit_wait, then cudaErrorCudartUnloading */
/* Bracket every call of the driver part into the public libcrypto. Enter returns -1 (after
 * simgpu_exit_wait) once exiting: the caller must not call EVP and unwinds with
 * cudaErrorCudartUnloading. Leave only after a successful enter. */
int simgpu_driver_enter(void);
void simgpu_driver_leave(void);

/* ---- statistics (simgpu_stats.c) ---- */
enum simgpu_counter {
    ST_H2D_COPIES, ST_D2H_COPIES, ST_D2D_COPIES, ST_H2D_BYTES, ST_D2H_BYTES, ST_D2D_BYTES,
    ST_H2D_MESSAGES, ST_D2H_MESSAGES, ST_VERIFIED_MESSAGES, ST_UNVERIFIED_MESSAGES,
    ST_TAG_FAILURES, ST_KEY_ROTATIONS, ST_IV_ROTATIONS, ST_BOUNCE_WAITS, ST_COMPUTE_NS,
    ST_H2D_DRIVER_CRYPTO_NS, ST_D2H_DRIVER_CRYPTO_NS, ST_H2D_CHANNELS_OPENED, ST_H2D_CHANNELS_CLOSED,
    ST_COUNT
};
void simgpu_count(enum simgpu_counter c, uint64_t n);
uint64_t simgpu_counter_get(enum simgpu_counter c);
void simgpu_stats_write(void);

/* ---- global state ---- */
typedef struct simgpu_global {
    simgpu_config cfg;
    int init_failed;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_mutex_t cc_mu;
    pthread_cond_t cc_cv;
    _Atomic int poison;          /* sticky cudaError_t, 0 = healthy */
    _Atomic uint64_t sched_gen;  /* bumped (under g.mu) at every g.cv broadcast */
    _Atomic uint64_t cc_gen;     /* bumped (under g.cc_mu) at every g.cc_cv broadcast */
    int device_set;
} simgpu_global;

extern simgpu_global g;

/* Initialises on first use; returns cudaSuccess, the init error or the sticky error. */
cudaError_t simgpu_enter(void);

#endif
