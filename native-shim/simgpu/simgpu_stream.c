/*
 * Streams, ops and events: the GPU's front end.
 *
 * Each stream owns a FIFO of ops run in order by its worker thread (or, for a synchronous op on an
 * idle stream, by the calling thread: no hand-off for plain cudaMemcpy). Modelled time: an op starts
 * at max(its submission, the end of the stream's previous op, the engine it needs) and lasts
 * max(its modelled duration, the real work simgpu did for it, e.g. copy-engine crypto), which the
 * executor sleeps out. Events record the modelled end of what precedes them,
 * so event times are exact and reproducible. The legacy default stream synchronises implicitly with
 * every blocking stream through internal fence events, as in the CUDA programming guide.
 *
 * All queue, counter and event fields are guarded by g.mu; g.cv is broadcast on every completion.
 */
#include "simgpu_internal.h"

#include <stdlib.h>
#include <string.h>

static simgpu_stream *legacy;
static simgpu_stream **streams;       /* every live stream but the legacy one (handle registry) */
static size_t n_streams, cap_streams;
static simgpu_event **events;         /* created events (handle registry) */
static size_t n_events, cap_events;
static pthread_key_t per_thread_key;
static __thread simgpu_stream *per_thread;

static pthread_mutex_t eng_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t engine_busy_until[4];

static int push_ptr(void ***arr, size_t *n, size_t *cap, void *p) {
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        void **a = realloc(*arr, c * sizeof *a);
        if (!a) return -1;
        *arr = a;
        *cap = c;
    }
    (*arr)[(*n)++] = p;
    return 0;
}

static int remove_ptr(void **arr, size_t *n, void *p) {
    for (size_t i = 0; i < *n; i++)
        if (arr[i] == p) {
            arr[i] = arr[--*n];
            return 1;
        }
    return 0;
}

uint64_t simgpu_engine_reserve(int dir, uint64_t earliest_ns, uint64_t duration_ns) {
    if (dir == DIR_H2H) return earliest_ns;
    pthread_mutex_lock(&eng_mu);
    uint64_t start = earliest_ns > engine_busy_until[dir] ? earliest_ns : engine_busy_until[dir];
    engine_busy_until[dir] = start + duration_ns;
    pthread_mutex_unlock(&eng_mu);
    return start;
}

void simgpu_engine_release(int dir, uint64_t real_end_ns) {
    if (dir == DIR_H2H) return;
    pthread_mutex_lock(&eng_mu);
    if (real_end_ns > engine_busy_until[dir]) engine_busy_until[dir] = real_end_ns;
    pthread_mutex_unlock(&eng_mu);
}

simgpu_op *simgpu_op_new(enum simgpu_op_kind kind) {
    simgpu_op *op = calloc(1, sizeof *op);
    if (op) {
        op->kind = kind;
        atomic_init(&op->refs, 1);
    }
    return op;
}

static void event_put_locked(simgpu_event *e) {
    if (--e->refs == 0) free(e);
}

static void op_free(simgpu_op *op) {
    if (atomic_fetch_sub(&op->refs, 1) != 1) return;
    if (op->kind == OP_RECORD || op->kind == OP_WAIT) {
        pthread_mutex_lock(&g.mu);
        event_put_locked(op->kind == OP_RECORD ? op->u.record.ev : op->u.wait.ev);
        pthread_mutex_unlock(&g.mu);
    }
    if (op->kind == OP_COPY) free(op->u.copy.msgs);
    free(op);
}

void simgpu_op_release(simgpu_op *op) { op_free(op); }

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* Ends an op that starts at `start` (model time) and models `dur` ns, after simgpu spent `work` ns of
 * real CPU work on it (memcpy, copy-engine crypto, waiting for the driver's messages). The op lasts
 * max(dur, work): simulated time never runs ahead of what this machine did, but a worker thread that
 * the host scheduled late does not stretch the device's timeline. */
static uint64_t finish(int dir, uint64_t start, uint64_t dur, uint64_t work) {
    uint64_t end = start + (work > dur ? work : dur);
    if (work > dur) simgpu_engine_release(dir, end);
    simgpu_sleep_until(end);
    return end;
}

static double rate_gbps(int dir) {
    return dir == DIR_D2D ? g.cfg.d2d_gbps : g.cfg.pcie_gbps;
}

static uint64_t execute(simgpu_stream *s, simgpu_op *op, uint64_t earliest) {
    int poisoned = simgpu_poisoned() != cudaSuccess;
    switch (op->kind) {
    case OP_COPY: {
        if (poisoned) return earliest;       /* a dead context moves no data */
        if (op->u.copy.cc) {
            uint64_t bytes = simgpu_copy_bytes(&op->u.copy.c);
            uint64_t dur = g.cfg.copy_latency_ns + simgpu_transfer_ns(bytes, g.cfg.pcie_gbps);
            uint64_t start = simgpu_engine_reserve(op->u.copy.c.dir, earliest, dur);
            uint64_t t0 = simgpu_now_ns();
            simgpu_cc_execute(op);
            return finish(op->u.copy.c.dir, start, dur, simgpu_now_ns() - t0);
        }
        int dir = op->u.copy.c.dir;
        if (dir == DIR_H2H) {
            simgpu_copy_execute_plain(&op->u.copy.c);
            return max_u64(earliest, simgpu_now_ns());
        }
        uint64_t dur = g.cfg.copy_latency_ns + simgpu_transfer_ns(simgpu_copy_bytes(&op->u.copy.c), rate_gbps(dir));
        uint64_t start = simgpu_engine_reserve(dir, earliest, dur);
        uint64_t t0 = simgpu_now_ns();
        simgpu_copy_execute_plain(&op->u.copy.c);
        return finish(dir, start, dur, simgpu_now_ns() - t0);
    }
    case OP_MEMSET: {
        if (poisoned) return earliest;
        uint64_t dur = g.cfg.copy_latency_ns + simgpu_transfer_ns(op->u.memset.n, g.cfg.d2d_gbps);
        uint64_t t0 = simgpu_now_ns();
        if (op->u.memset.elem == 2) {
            uint16_t v = (uint16_t)op->u.memset.value;
            for (size_t i = 0; i < op->u.memset.n; i += 2) memcpy(op->u.memset.dst + i, &v, 2);
        } else if (op->u.memset.elem == 4) {
            uint32_t v = op->u.memset.value;
            for (size_t i = 0; i < op->u.memset.n; i += 4) memcpy(op->u.memset.dst + i, &v, 4);
        } else {
            memset(op->u.memset.dst, (int)(op->u.memset.value & 0xff), op->u.memset.n);
        }
        return finish(DIR_H2H, earliest, dur, simgpu_now_ns() - t0);
    }
    case OP_COMPUTE:
        if (poisoned) return earliest;
        return finish(DIR_H2H, earliest, op->u.compute.ns, 0);
    case OP_HOST_FN:
        if (poisoned) return earliest;
        simgpu_sleep_until(earliest);
        op->u.host.fn(op->u.host.user);
        return max_u64(earliest, simgpu_now_ns());
    case OP_STREAM_CB: {
        simgpu_sleep_until(earliest);
        cudaError_t status = simgpu_poisoned();
        op->u.cb.fn((cudaStream_t)op->u.cb.stream, status, op->u.cb.user);
        return max_u64(earliest, simgpu_now_ns());
    }
    case OP_RECORD: {
        simgpu_event *e = op->u.record.ev;
        pthread_mutex_lock(&g.mu);
        if (op->u.record.gen > e->gen_done) {
            e->gen_done = op->u.record.gen;
            e->time_ns = earliest;
        }
        simgpu_wake_sched();
        pthread_mutex_unlock(&g.mu);
        return earliest;
    }
    case OP_WAIT: {
        simgpu_event *e = op->u.wait.ev;
        pthread_mutex_lock(&g.mu);
        while (e->gen_done < op->u.wait.gen) simgpu_wait_sched();
        uint64_t t = e->time_ns;
        pthread_mutex_unlock(&g.mu);
        return max_u64(earliest, t);
    }
    }
    (void)s;
    return earliest;
}

static void complete_locked(simgpu_stream *s, simgpu_op *op, uint64_t end) {
    s->last_end_ns = max_u64(s->last_end_ns, end);
    s->completed = op->seq;
    s->executing = 0;
    simgpu_wake_sched();
}

/* Executes op as the stream's only executor and completes it: called with g.mu held, returns with it
 * released (the worker and the inline path of a synchronous op both end here). */
static void run_unlocking(simgpu_stream *s, simgpu_op *op) {
    s->executing = 1;
    uint64_t earliest = max_u64(s->last_end_ns, op->submit_ns);
    pthread_mutex_unlock(&g.mu);
    uint64_t end = execute(s, op, earliest);
    pthread_mutex_lock(&g.mu);
    complete_locked(s, op, end);
    pthread_mutex_unlock(&g.mu);
    op_free(op);
}

static void stream_put_locked(simgpu_stream *s) {
    if (--s->refs == 0) {
        if (s->h2d_chan) simgpu_cc_stream_free(s);   /* no op of s is left: its channel goes with it */
        if (s->fence) event_put_locked(s->fence);
        free(s);
    }
}

static void *worker_main(void *arg) {
    simgpu_stream *s = arg;
    pthread_mutex_lock(&g.mu);
    for (;;) {
        while ((!s->head || s->executing) && !(s->destroyed && !s->head && !s->executing))
            simgpu_wait_sched();
        if (!s->head) break;   /* destroyed and drained */
        if (simgpu_exiting() && !simgpu_poisoned()) {   /* the process is ending: no more work */
            pthread_mutex_unlock(&g.mu);
            simgpu_exit_wait();
            pthread_mutex_lock(&g.mu);
            continue;
        }
        simgpu_op *op = s->head;
        s->head = op->next;
        if (!s->head) s->tail = NULL;
        run_unlocking(s, op);
        pthread_mutex_lock(&g.mu);
    }
    stream_put_locked(s);
    pthread_mutex_unlock(&g.mu);
    return NULL;
}

static simgpu_event *event_new(unsigned flags, int internal) {
    simgpu_event *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->flags = flags;
    e->internal = internal;
    e->refs = 1;
    return e;
}

static simgpu_stream *stream_new(unsigned flags, int priority, int is_legacy) {
    simgpu_stream *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->flags = flags;
    s->priority = priority;
    s->is_legacy = is_legacy;
    s->refs = 2;   /* the handle and the worker */
    s->fence = event_new(cudaEventDisableTiming, 1);
    if (!s->fence) {
        free(s);
        return NULL;
    }
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 256 << 10);
    int rc = pthread_create(&s->worker, &at, worker_main, s);
    pthread_attr_destroy(&at);
    if (rc) {
        free(s->fence);
        free(s);
        return NULL;
    }
    pthread_setname_np(s->worker, "simgpu-stream");
    return s;
}

/* A new stream in the handle registry (what the legacy stream synchronises with); NULL if out of memory. */
static simgpu_stream *stream_create_registered(unsigned flags, int priority, int per_thread_stream) {
    simgpu_stream *s = stream_new(flags, priority, 0);
    if (!s) return NULL;
    s->is_per_thread = per_thread_stream;
    pthread_mutex_lock(&g.mu);
    int rc = push_ptr((void ***)&streams, &n_streams, &cap_streams, s);
    if (rc) {
        s->destroyed = 1;
        stream_put_locked(s);
        simgpu_wake_sched();
    }
    pthread_mutex_unlock(&g.mu);
    return rc ? NULL : s;
}

static void append_locked(simgpu_stream *s, simgpu_op *op) {
    op->seq = ++s->submitted;
    op->submit_ns = simgpu_now_ns();
    op->next = NULL;
    if (s->tail) s->tail->next = op; else s->head = op;
    s->tail = op;
}

static int pending(const simgpu_stream *s) { return s->submitted > s->completed; }

static int blocking(const simgpu_stream *s) { return !s->is_legacy && !(s->flags & cudaStreamNonBlocking); }

/* Makes `s` wait for everything submitted so far to `t`: a fence recorded on t, waited on s. */
static void fence_locked(simgpu_stream *s, simgpu_stream *t) {
    simgpu_op *rec = simgpu_op_new(OP_RECORD), *wait = simgpu_op_new(OP_WAIT);
    if (!rec || !wait) {   /* out of memory: fall back to waiting here, which is still ordered */
        free(rec);
        free(wait);
        uint64_t target = t->submitted;
        while (t->completed < target) simgpu_wait_sched();
        return;
    }
    uint64_t gen = ++t->fence->gen_recorded;
    t->fence->refs += 2;
    rec->u.record.ev = t->fence;
    rec->u.record.gen = gen;
    wait->u.wait.ev = t->fence;
    wait->u.wait.gen = gen;
    append_locked(t, rec);
    append_locked(s, wait);
}

static void implicit_sync_locked(simgpu_stream *s) {
    if (s->is_legacy) {
        for (size_t i = 0; i < n_streams; i++)
            if (blocking(streams[i]) && pending(streams[i])) fence_locked(s, streams[i]);
    } else if (blocking(s) && pending(legacy)) {
        fence_locked(s, legacy);
    }
}

static int implicit_sync_needed_locked(simgpu_stream *s) {
    if (s->is_legacy) {
        for (size_t i = 0; i < n_streams; i++)
            if (blocking(streams[i]) && pending(streams[i])) return 1;
        return 0;
    }
    return blocking(s) && pending(legacy);
}

uint64_t simgpu_submit(simgpu_stream *s, simgpu_op *op) {
    pthread_mutex_lock(&g.mu);
    implicit_sync_locked(s);
    append_locked(s, op);
    uint64_t seq = op->seq;
    simgpu_wake_sched();
    pthread_mutex_unlock(&g.mu);
    return seq;
}

int simgpu_try_inline(simgpu_stream *s, simgpu_op *op) {
    pthread_mutex_lock(&g.mu);
    if (s->head || s->executing || implicit_sync_needed_locked(s)) {
        pthread_mutex_unlock(&g.mu);
        return 0;
    }
    op->seq = ++s->submitted;
    op->submit_ns = simgpu_now_ns();
    run_unlocking(s, op);
    return 1;
}

void simgpu_wait_seq(simgpu_stream *s, uint64_t seq) {
    pthread_mutex_lock(&g.mu);
    while (s->completed < seq) simgpu_wait_sched();
    pthread_mutex_unlock(&g.mu);
}

static void per_thread_exit(void *arg) {
    simgpu_stream *s = arg;
    pthread_mutex_lock(&g.mu);
    remove_ptr((void **)streams, &n_streams, s);
    s->destroyed = 1;
    simgpu_wake_sched();
    stream_put_locked(s);   /* the thread's reference; the worker frees the stream once drained */
    pthread_mutex_unlock(&g.mu);
}

int simgpu_streams_init(void) {
    if (pthread_key_create(&per_thread_key, per_thread_exit)) return -1;
    legacy = stream_new(0, 0, 1);
    return legacy ? 0 : -1;
}

simgpu_stream *simgpu_stream_get(cudaStream_t h) {
    simgpu_stream *s = NULL;
    if (h == NULL || h == cudaStreamLegacy) {
        s = legacy;
    } else if (h == cudaStreamPerThread) {
        if (!per_thread) {
            /* registered so that the legacy stream synchronises with it like any blocking stream */
            simgpu_stream *n = stream_create_registered(0, 0, 1);
            if (!n) return NULL;
            per_thread = n;
            pthread_setspecific(per_thread_key, n);
        }
        s = per_thread;
    }
    pthread_mutex_lock(&g.mu);
    if (!s) {
        for (size_t i = 0; i < n_streams; i++)
            if (streams[i] == (simgpu_stream *)h) s = streams[i];
    }
    if (s) s->refs++;
    pthread_mutex_unlock(&g.mu);
    return s;
}

void simgpu_stream_put(simgpu_stream *s) {
    pthread_mutex_lock(&g.mu);
    stream_put_locked(s);
    pthread_mutex_unlock(&g.mu);
}

simgpu_event *simgpu_event_lookup(cudaEvent_t h) {
    for (size_t i = 0; i < n_events; i++)
        if (events[i] == (simgpu_event *)h) return events[i];
    return NULL;
}

void simgpu_device_synchronize_all(void) {
    pthread_mutex_lock(&g.mu);
    uint64_t target = legacy->submitted;
    while (legacy->completed < target) simgpu_wait_sched();
    for (size_t i = 0; i < n_streams; i++) {
        simgpu_stream *s = streams[i];
        target = s->submitted;
        while (s->completed < target) simgpu_wait_sched();
    }
    pthread_mutex_unlock(&g.mu);
}

void simgpu_streams_reset(void) {
    simgpu_device_synchronize_all();
    pthread_mutex_lock(&g.mu);
    size_t kept = 0;
    for (size_t i = 0; i < n_streams; i++) {
        if (streams[i]->is_per_thread) {
            streams[kept++] = streams[i];
            continue;
        }
        streams[i]->destroyed = 1;
        stream_put_locked(streams[i]);
    }
    n_streams = kept;
    for (size_t i = 0; i < n_events; i++) event_put_locked(events[i]);
    n_events = 0;
    simgpu_wake_sched();
    pthread_mutex_unlock(&g.mu);
}

/* ---- stream API ---- */

SIMGPU_API cudaError_t cudaDeviceGetStreamPriorityRange(int *leastPriority, int *greatestPriority) {
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    if (leastPriority) *leastPriority = 0;       /* H100: [0, -5], lower is more urgent */
    if (greatestPriority) *greatestPriority = -5;
    return cudaSuccess;
}

static cudaError_t stream_create(cudaStream_t *pStream, unsigned int flags, int priority) {
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    if (!pStream || (flags & ~(unsigned)cudaStreamNonBlocking)) return simgpu_ret(cudaErrorInvalidValue);
    if (priority > 0) priority = 0;              /* clamped to the range, as the runtime does */
    if (priority < -5) priority = -5;
    simgpu_stream *s = stream_create_registered(flags, priority, 0);
    if (!s) return simgpu_ret(cudaErrorMemoryAllocation);
    *pStream = (cudaStream_t)s;
    return cudaSuccess;
}

SIMGPU_API cudaError_t cudaStreamCreateWithPriority(cudaStream_t *pStream, unsigned int flags, int priority) {
    return stream_create(pStream, flags, priority);
}

SIMGPU_API cudaError_t cudaStreamCreateWithFlags(cudaStream_t *pStream, unsigned int flags) {
    return stream_create(pStream, flags, 0);
}

SIMGPU_API cudaError_t cudaStreamCreate(cudaStream_t *pStream) {
    return stream_create(pStream, cudaStreamDefault, 0);
}

SIMGPU_API cudaError_t cudaStreamDestroy(cudaStream_t h) {
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    if (h == NULL || h == cudaStreamLegacy || h == cudaStreamPerThread)
        return simgpu_ret(cudaErrorInvalidResourceHandle);
    pthread_mutex_lock(&g.mu);
    simgpu_stream *s = (simgpu_stream *)h;
    int found = remove_ptr((void **)streams, &n_streams, s);
    if (found) {
        /* Work already queued still runs; the worker frees the stream when it has drained. */
        s->destroyed = 1;
        stream_put_locked(s);
        simgpu_wake_sched();
    }
    pthread_mutex_unlock(&g.mu);
    return found ? cudaSuccess : simgpu_ret(cudaErrorInvalidResourceHandle);
}

#define WITH_STREAM(h, s)                                         \
    cudaError_t e_ = simgpu_enter();                              \
    if (e_) return simgpu_ret(e_);                                \
    simgpu_stream *s = simgpu_stream_get(h);                      \
    if (!s) return simgpu_ret(cudaErrorInvalidResourceHandle)

SIMGPU_API cudaError_t cudaStreamSynchronize(cudaStream_t h) {
    WITH_STREAM(h, s);
    pthread_mutex_lock(&g.mu);
    uint64_t target = s->submitted;
    pthread_mutex_unlock(&g.mu);
    simgpu_wait_seq(s, target);
    simgpu_stream_put(s);
    return simgpu_ret(simgpu_poisoned());
}

SIMGPU_API cudaError_t cudaStreamQuery(cudaStream_t h) {
    WITH_STREAM(h, s);
    pthread_mutex_lock(&g.mu);
    int busy = pending(s);
    pthread_mutex_unlock(&g.mu);
    simgpu_stream_put(s);
    return busy ? cudaErrorNotReady : cudaSuccess;   /* NotReady is not an error: not recorded */
}

SIMGPU_API cudaError_t cudaStreamGetPriority(cudaStream_t h, int *priority) {
    WITH_STREAM(h, s);
    if (!priority) {
        simgpu_stream_put(s);
        return simgpu_ret(cudaErrorInvalidValue);
    }
    *priority = s->priority;
    simgpu_stream_put(s);
    return cudaSuccess;
}

SIMGPU_API cudaError_t cudaStreamGetFlags(cudaStream_t h, unsigned int *flags) {
    WITH_STREAM(h, s);
    if (!flags) {
        simgpu_stream_put(s);
        return simgpu_ret(cudaErrorInvalidValue);
    }
    *flags = s->flags;
    simgpu_stream_put(s);
    return cudaSuccess;
}

static cudaError_t submit_simple(simgpu_stream *s, simgpu_op *op) {
    if (!op) {
        simgpu_stream_put(s);
        return simgpu_ret(cudaErrorMemoryAllocation);
    }
    simgpu_submit(s, op);
    simgpu_stream_put(s);
    return cudaSuccess;
}

SIMGPU_API cudaError_t cudaLaunchHostFunc(cudaStream_t h, cudaHostFn_t fn, void *userData) {
    WITH_STREAM(h, s);
    if (!fn) {
        simgpu_stream_put(s);
        return simgpu_ret(cudaErrorInvalidValue);
    }
    simgpu_op *op = simgpu_op_new(OP_HOST_FN);
    if (op) {
        op->u.host.fn = fn;
        op->u.host.user = userData;
    }
    return submit_simple(s, op);
}

SIMGPU_API cudaError_t cudaStreamAddCallback(cudaStream_t h, cudaStreamCallback_t cb, void *userData, unsigned int flags) {
    WITH_STREAM(h, s);
    if (!cb || flags != 0) {
        simgpu_stream_put(s);
        return simgpu_ret(cudaErrorInvalidValue);
    }
    simgpu_op *op = simgpu_op_new(OP_STREAM_CB);
    if (op) {
        op->u.cb.fn = cb;
        op->u.cb.user = userData;
        op->u.cb.stream = (simgpu_stream *)h;   /* the handle the app passed, as the runtime does */
    }
    return submit_simple(s, op);
}

SIMGPU_API cudaError_t simgpuStreamCompute(cudaStream_t h, unsigned long long ns) {
    WITH_STREAM(h, s);
    simgpu_op *op = simgpu_op_new(OP_COMPUTE);
    if (op) op->u.compute.ns = ns;
    simgpu_count(ST_COMPUTE_NS, ns);
    return submit_simple(s, op);
}

SIMGPU_API cudaError_t cudaDeviceSynchronize(void) {
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    simgpu_device_synchronize_all();
    return simgpu_ret(simgpu_poisoned());
}

/* ---- events ---- */

static cudaError_t event_create(cudaEvent_t *event, unsigned int flags) {
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    unsigned known = cudaEventBlockingSync | cudaEventDisableTiming | cudaEventInterprocess;
    if (!event || (flags & ~known)) return simgpu_ret(cudaErrorInvalidValue);
    if ((flags & cudaEventInterprocess) && !(flags & cudaEventDisableTiming)) return simgpu_ret(cudaErrorInvalidValue);
    simgpu_event *ev = event_new(flags, 0);
    if (!ev) return simgpu_ret(cudaErrorMemoryAllocation);
    pthread_mutex_lock(&g.mu);
    int rc = push_ptr((void ***)&events, &n_events, &cap_events, ev);
    if (rc) event_put_locked(ev);
    pthread_mutex_unlock(&g.mu);
    if (rc) return simgpu_ret(cudaErrorMemoryAllocation);
    *event = (cudaEvent_t)ev;
    return cudaSuccess;
}

SIMGPU_API cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned int flags) {
    return event_create(event, flags);
}

SIMGPU_API cudaError_t cudaEventCreate(cudaEvent_t *event) {
    return event_create(event, cudaEventDefault);
}

SIMGPU_API cudaError_t cudaEventDestroy(cudaEvent_t h) {
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    pthread_mutex_lock(&g.mu);
    simgpu_event *ev = simgpu_event_lookup(h);
    if (ev) {
        remove_ptr((void **)events, &n_events, ev);
        event_put_locked(ev);   /* queued records and waits keep their own references */
    }
    pthread_mutex_unlock(&g.mu);
    return ev ? cudaSuccess : simgpu_ret(cudaErrorInvalidResourceHandle);
}

static cudaError_t event_record(cudaEvent_t h, cudaStream_t sh) {
    WITH_STREAM(sh, s);
    simgpu_op *op = simgpu_op_new(OP_RECORD);
    if (!op) {
        simgpu_stream_put(s);
        return simgpu_ret(cudaErrorMemoryAllocation);
    }
    pthread_mutex_lock(&g.mu);
    simgpu_event *ev = simgpu_event_lookup(h);
    if (!ev) {
        pthread_mutex_unlock(&g.mu);
        free(op);
        simgpu_stream_put(s);
        return simgpu_ret(cudaErrorInvalidResourceHandle);
    }
    ev->refs++;
    op->u.record.ev = ev;
    op->u.record.gen = ++ev->gen_recorded;
    implicit_sync_locked(s);
    append_locked(s, op);
    simgpu_wake_sched();
    pthread_mutex_unlock(&g.mu);
    simgpu_stream_put(s);
    return cudaSuccess;
}

SIMGPU_API cudaError_t cudaEventRecord(cudaEvent_t h, cudaStream_t sh) {
    return event_record(h, sh);
}

SIMGPU_API cudaError_t cudaEventRecordWithFlags(cudaEvent_t h, cudaStream_t sh, unsigned int flags) {
    if (flags & ~1u) return simgpu_ret(cudaErrorInvalidValue);
    return event_record(h, sh);
}

SIMGPU_API cudaError_t cudaStreamWaitEvent(cudaStream_t sh, cudaEvent_t h, unsigned int flags) {
    WITH_STREAM(sh, s);
    if (flags & ~1u) {
        simgpu_stream_put(s);
        return simgpu_ret(cudaErrorInvalidValue);
    }
    simgpu_op *op = simgpu_op_new(OP_WAIT);
    if (!op) {
        simgpu_stream_put(s);
        return simgpu_ret(cudaErrorMemoryAllocation);
    }
    pthread_mutex_lock(&g.mu);
    simgpu_event *ev = simgpu_event_lookup(h);
    cudaError_t rc = cudaSuccess;
    if (!ev) {
        rc = cudaErrorInvalidResourceHandle;
        free(op);
    } else if (ev->gen_recorded == 0) {
        free(op);                          /* waiting on a never-recorded event is a no-op */
    } else {
        ev->refs++;
        op->u.wait.ev = ev;
        op->u.wait.gen = ev->gen_recorded;
        implicit_sync_locked(s);
        append_locked(s, op);
        simgpu_wake_sched();
    }
    pthread_mutex_unlock(&g.mu);
    simgpu_stream_put(s);
    return simgpu_ret(rc);
}

SIMGPU_API cudaError_t cudaEventQuery(cudaEvent_t h) {
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    pthread_mutex_lock(&g.mu);
    simgpu_event *ev = simgpu_event_lookup(h);
    cudaError_t rc = !ev ? cudaErrorInvalidResourceHandle
                   : ev->gen_done >= ev->gen_recorded ? cudaSuccess : cudaErrorNotReady;
    pthread_mutex_unlock(&g.mu);
    return rc == cudaErrorInvalidResourceHandle ? simgpu_ret(rc) : rc;
}

SIMGPU_API cudaError_t cudaEventSynchronize(cudaEvent_t h) {
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    pthread_mutex_lock(&g.mu);
    simgpu_event *ev = simgpu_event_lookup(h);
    if (!ev) {
        pthread_mutex_unlock(&g.mu);
        return simgpu_ret(cudaErrorInvalidResourceHandle);
    }
    ev->refs++;
    uint64_t gen = ev->gen_recorded;
    while (ev->gen_done < gen) simgpu_wait_sched();
    event_put_locked(ev);
    pthread_mutex_unlock(&g.mu);
    return simgpu_ret(simgpu_poisoned());
}

SIMGPU_API cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end) {
    cudaError_t e = simgpu_enter();
    if (e) return simgpu_ret(e);
    if (!ms) return simgpu_ret(cudaErrorInvalidValue);
    pthread_mutex_lock(&g.mu);
    simgpu_event *a = simgpu_event_lookup(start), *b = simgpu_event_lookup(end);
    cudaError_t rc = cudaSuccess;
    if (!a || !b || !a->gen_recorded || !b->gen_recorded ||
        ((a->flags | b->flags) & cudaEventDisableTiming))
        rc = cudaErrorInvalidResourceHandle;
    else if (a->gen_done < a->gen_recorded || b->gen_done < b->gen_recorded)
        rc = cudaErrorNotReady;
    else
        *ms = (float)(((double)b->time_ns - (double)a->time_ns) / 1e6);
    pthread_mutex_unlock(&g.mu);
    return simgpu_ret(rc);
}
