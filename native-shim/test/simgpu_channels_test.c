/*
 * H2D channels (SIMGPU_H2D_CHANNELS), the H2D ledger (SIMGPU_LEDGER) and the driver's crypto time
 * (h2d_driver_crypto_ns, d2h_driver_crypto_ns). ctest runs it per-stream, per-context and with CC
 * off; each case checks what its mode promises.
 *
 * The program is its own EVP interposer: it defines EVP_EncryptInit_ex, EVP_EncryptUpdate and
 * EVP_CIPHER_CTX_ctrl (exported, ENABLE_EXPORTS), which simgpu's driver part reaches through the
 * dynamic linker. Each H2D message is recorded as the driver made it: key, IV, length and the
 * FNV-1a 64 hash of the ciphertext it left in the bounce buffer followed by its tag. The ledger's
 * lines are compared with those records. SIMGPU_LEDGER is set by main to a fresh file unless the
 * caller set it.
 */
#define _GNU_SOURCE
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "simgpu.h"
#include "test_runner.h"

#define CHUNK 65536u   /* ctest sets SIMGPU_CC_CHUNK_BYTES to this */

/* ---- the interposer ---- */

typedef struct rec {
    unsigned char key[32], iv[12];
    size_t len;
    uint64_t hash;
    int tagged;
} rec;

#define MAX_RECS 4096
static rec recs[MAX_RECS];
static int n_recs;
static pthread_mutex_t recs_mu = PTHREAD_MUTEX_INITIALIZER;
static __thread int cur = -1;            /* this thread's message in progress */
static __thread unsigned char *cur_out;  /* where its ciphertext starts (the bounce buffer) */

typedef int (*init_fn)(EVP_CIPHER_CTX *, const EVP_CIPHER *, ENGINE *, const unsigned char *, const unsigned char *);
typedef int (*update_fn)(EVP_CIPHER_CTX *, unsigned char *, int *, const unsigned char *, int);
typedef int (*ctrl_fn)(EVP_CIPHER_CTX *, int, int, void *);

static uint64_t fnv1a64(uint64_t h, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

int EVP_EncryptInit_ex(EVP_CIPHER_CTX *c, const EVP_CIPHER *t, ENGINE *e, const unsigned char *key, const unsigned char *iv) {
    if (key && iv) {
        pthread_mutex_lock(&recs_mu);
        cur = n_recs < MAX_RECS ? n_recs++ : -1;
        if (cur >= 0) {
            memset(&recs[cur], 0, sizeof recs[cur]);
            memcpy(recs[cur].key, key, 32);
            memcpy(recs[cur].iv, iv, 12);
        }
        pthread_mutex_unlock(&recs_mu);
        cur_out = NULL;
    }
    return ((init_fn)dlsym(RTLD_NEXT, "EVP_EncryptInit_ex"))(c, t, e, key, iv);
}

int EVP_EncryptUpdate(EVP_CIPHER_CTX *c, unsigned char *out, int *outl, const unsigned char *in, int inl) {
    int rc = ((update_fn)dlsym(RTLD_NEXT, "EVP_EncryptUpdate"))(c, out, outl, in, inl);
    if (cur >= 0 && rc == 1) {
        if (!cur_out) cur_out = out;   /* rows follow each other in the bounce buffer */
        recs[cur].len += (size_t)*outl;
    }
    return rc;
}

int EVP_CIPHER_CTX_ctrl(EVP_CIPHER_CTX *c, int type, int arg, void *ptr) {
    int rc = ((ctrl_fn)dlsym(RTLD_NEXT, "EVP_CIPHER_CTX_ctrl"))(c, type, arg, ptr);
    if (type == EVP_CTRL_GCM_GET_TAG && rc == 1 && cur >= 0) {
        uint64_t h = fnv1a64(0xcbf29ce484222325ull, cur_out ? cur_out : (unsigned char *)"", recs[cur].len);
        recs[cur].hash = fnv1a64(h, ptr, 16);
        recs[cur].tagged = 1;
        cur = -1;
    }
    return rc;
}

static int recs_now(void) {
    pthread_mutex_lock(&recs_mu);
    int n = n_recs;
    pthread_mutex_unlock(&recs_mu);
    return n;
}

/* ---- the ledger ---- */

typedef struct line {
    unsigned id;
    unsigned long long chan_ctr, len, hash;
    unsigned char iv[12];
} line;

static const char *ledger_path(void) { return getenv("SIMGPU_LEDGER"); }

/* Parses every line of the ledger into out (up to cap); returns how many, or -1 on a malformed line. */
static int ledger_read(line *out, int cap) {
    FILE *f = fopen(ledger_path(), "r");
    if (!f) return -1;
    char buf[256];
    int n = 0;
    while (fgets(buf, sizeof buf, f)) {
        line l;
        char iv[32], hash[32], tail;
        if (sscanf(buf, "h2d %u %llu %31s %llu %31s%c", &l.id, &l.chan_ctr, iv, &l.len, hash, &tail) != 6 ||
            tail != '\n' || strlen(iv) != 24 || strlen(hash) != 16) {
            fprintf(stderr, "  malformed ledger line: %s", buf);
            fclose(f);
            return -1;
        }
        for (int i = 0; i < 12; i++) {
            unsigned b;
            if (sscanf(iv + 2 * i, "%2x", &b) != 1) {
                fclose(f);
                return -1;
            }
            l.iv[i] = (unsigned char)b;
        }
        l.hash = strtoull(hash, NULL, 16);
        if (n < cap) out[n] = l;
        n++;
    }
    fclose(f);
    return n;
}

static line lines[MAX_RECS];

/* ---- helpers ---- */

static int per_stream(void) {
    const char *v = getenv("SIMGPU_H2D_CHANNELS");
    return v && !strcmp(v, "per-stream");
}

static void fill(char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) p[i] = (char)(i * 131 + seed * 7 + (i >> 9));
}

/* n bytes up on stream s and back on the legacy stream (D2H makes no encrypt call): 1 when equal. */
static int upload(cudaStream_t s, size_t n, unsigned seed) {
    if (!n) return cudaMemcpyAsync(NULL, NULL, 0, cudaMemcpyHostToDevice, s) == cudaSuccess;
    char *src = malloc(n), *back = calloc(1, n);
    void *d = NULL;
    fill(src, n, seed);
    int ok = cudaMalloc(&d, n) == cudaSuccess && cudaMemcpyAsync(d, src, n, cudaMemcpyHostToDevice, s) == cudaSuccess &&
             cudaStreamSynchronize(s) == cudaSuccess && cudaMemcpy(back, d, n, cudaMemcpyDeviceToHost) == cudaSuccess &&
             memcmp(src, back, n) == 0;
    cudaFree(d);
    free(src);
    free(back);
    return ok;
}

static int same_key(int a, int b) { return !memcmp(recs[a].key, recs[b].key, 32); }

/* ---- cases ---- */

TEST_CASE(streams_use_their_own_keys_only_in_per_stream_mode) {
    if (!simgpuCcEnabled()) return;
    cudaStream_t a, b;
    REQUIRE(cudaStreamCreate(&a) == cudaSuccess && cudaStreamCreateWithFlags(&b, cudaStreamNonBlocking) == cudaSuccess);
    cudaStream_t order[4] = {a, b, NULL, cudaStreamPerThread};
    int first = recs_now();
    for (int i = 0; i < 4; i++) CHECK(upload(order[i], 100 + (size_t)i, (unsigned)i));
    REQUIRE(recs_now() == first + 4);   /* one message each: the interposer sees the driver */
    for (int i = 0; i < 4; i++) CHECK(recs[first + i].tagged && recs[first + i].len == 100 + (size_t)i);
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++) {
            if (per_stream()) CHECK(!same_key(first + i, first + j));   /* a, b, legacy, per-thread */
            else CHECK(same_key(first + i, first + j));
        }
    simgpuStats st;
    simgpuGetStats(&st);
    CHECK_EQ(st.tag_failures, 0);
    CHECK_EQ(cudaStreamDestroy(a), cudaSuccess);
    CHECK_EQ(cudaStreamDestroy(b), cudaSuccess);
}

TEST_CASE(one_byte_on_stream_b_does_not_advance_stream_a) {
    if (!simgpuCcEnabled()) return;
    cudaStream_t a, b;
    REQUIRE(cudaStreamCreate(&a) == cudaSuccess && cudaStreamCreate(&b) == cudaSuccess);
    int first = recs_now();
    CHECK(upload(a, 1, 1));
    CHECK(upload(b, 1, 2));
    CHECK(upload(a, 1, 3));
    REQUIRE(recs_now() == first + 3);
    const unsigned char *a1 = recs[first].iv, *bb = recs[first + 1].iv, *a2 = recs[first + 2].iv;
    /* IV = (LE32 counter || LE64 channel counter) XOR mask: the XOR of two IVs of one key epoch is
     * the XOR of their counters. A's channel is new: its messages are 1 and 2, 1 ^ 2 = 3. */
    unsigned char x[12];
    for (int i = 0; i < 12; i++) x[i] = a1[i] ^ a2[i];
    static const unsigned char next[12] = {3};
    if (per_stream()) {
        CHECK(!memcmp(x, next, 12));
        CHECK(!same_key(first, first + 1));
        CHECK(same_key(first, first + 2));
    } else {
        /* one channel: B's message took counter 2 between A's 1... and 3 */
        CHECK(memcmp(x, next, 12) != 0);
        CHECK(memcmp(a1, bb, 12) != 0 && memcmp(bb, a2, 12) != 0);
        CHECK(same_key(first, first + 1) && same_key(first, first + 2));
    }
    CHECK_EQ(cudaStreamDestroy(a), cudaSuccess);
    CHECK_EQ(cudaStreamDestroy(b), cudaSuccess);
}

/* Waits (10 s at most) until the streams destroyed so far are freed: `live` H2D channels remain. */
static void wait_channels_live(unsigned long long live, simgpuStats *st) {
    for (int i = 0; i < 2000; i++) {
        simgpuGetStats(st);
        if (st->h2d_channels_opened - st->h2d_channels_closed <= live) return;
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
}

TEST_CASE(destroyed_stream_closes_its_channel) {
    if (!simgpuCcEnabled()) return;
    simgpuStats before, st;
    /* Every stream the other cases created is destroyed: once freed, only the legacy stream's and
     * this thread's per-thread stream's channels are open (per-stream), or the context's. */
    CHECK(upload(NULL, 1, 7));
    CHECK(upload(cudaStreamPerThread, 1, 8));
    unsigned long long live = per_stream() ? 2 : 1;
    wait_channels_live(live, &before);
    CHECK_EQ(before.h2d_channels_opened - before.h2d_channels_closed, live);
    cudaStream_t s, idle;
    REQUIRE(cudaStreamCreate(&s) == cudaSuccess && cudaStreamCreate(&idle) == cudaSuccess);
    CHECK(upload(s, 3 * CHUNK + 5, 9));
    CHECK(upload(s, 17, 10));
    simgpuGetStats(&st);
    CHECK_EQ(st.h2d_channels_opened - before.h2d_channels_opened, per_stream() ? 1 : 0);
    CHECK_EQ(cudaStreamDestroy(idle), cudaSuccess);   /* never copied: never had a channel */
    CHECK_EQ(cudaStreamDestroy(s), cudaSuccess);
    /* The stream is freed (and its channel closed, keys zeroed) once its worker has drained. */
    unsigned long long want = before.h2d_channels_closed + (per_stream() ? 1 : 0);
    wait_channels_live(live, &st);
    CHECK_EQ(cudaDeviceSynchronize(), cudaSuccess);
    simgpuGetStats(&st);
    CHECK_EQ(st.h2d_channels_closed, want);
    CHECK_EQ(st.h2d_channels_opened - before.h2d_channels_opened, per_stream() ? 1 : 0);
    /* A new stream gets a new channel: a new key. */
    cudaStream_t t;
    REQUIRE(cudaStreamCreate(&t) == cudaSuccess);
    int first = recs_now();
    CHECK(upload(t, 1, 11));
    CHECK(upload(NULL, 1, 12));
    REQUIRE(recs_now() == first + 2);
    if (per_stream()) CHECK(!same_key(first, first + 1));
    CHECK_EQ(cudaStreamDestroy(t), cudaSuccess);
}

TEST_CASE(ledger_has_one_line_per_h2d_message_as_the_driver_sent_it) {
    int cc = simgpuCcEnabled();   /* the first CUDA call opens the ledger */
    int before = ledger_read(lines, MAX_RECS);
    REQUIRE(before >= 0);
    if (!cc) {   /* no message, no line */
        CHECK(upload(NULL, 5 * CHUNK + 3, 1));
        CHECK_EQ(ledger_read(lines, MAX_RECS), before);
        return;
    }
    REQUIRE(before == recs_now());   /* every message so far has its line, in order */
    cudaStream_t a, b;
    REQUIRE(cudaStreamCreate(&a) == cudaSuccess && cudaStreamCreate(&b) == cudaSuccess);
    int first = recs_now();
    CHECK(upload(a, 5 * CHUNK + 3, 1));   /* 6 messages */
    CHECK(upload(b, 2 * CHUNK, 2));       /* 2 */
    CHECK(upload(a, 0, 3));               /* 0 bytes: no message */
    CHECK(upload(a, 1, 4));               /* 1 */
    /* The same plaintext twice, on one stream: different IVs, so different ciphertext and hashes. */
    CHECK(upload(b, CHUNK, 5));
    CHECK(upload(b, CHUNK, 5));
    int n = recs_now() - first;
    CHECK_EQ(n, 6 + 2 + 1 + 2);
    int total = ledger_read(lines, MAX_RECS);
    REQUIRE(total == first + n);
    for (int i = first; i < first + n; i++) {
        line *l = &lines[i];
        CHECK(recs[i].tagged);
        CHECK(!memcmp(l->iv, recs[i].iv, 12));
        CHECK_EQ(l->len, recs[i].len);
        if (l->hash != recs[i].hash) {
            fprintf(stderr, "  line %d: hash %016llx, the bounce buffer held %016llx\n", i, l->hash,
                    (unsigned long long)recs[i].hash);
            CHECK(0);
        }
        for (int j = 0; j < i; j++) CHECK(memcmp(lines[j].iv, l->iv, 12) != 0 || lines[j].id != l->id);
    }
    CHECK_EQ(lines[first].len, CHUNK);
    CHECK_EQ(lines[first + 5].len, 3);
    CHECK_EQ(lines[first + 8].len, 1);
    int s1 = first + 9, s2 = first + 10;
    CHECK(lines[s1].hash != lines[s2].hash && memcmp(lines[s1].iv, lines[s2].iv, 12) != 0);
    /* channel ids and channel counters: a's 7 messages on one channel, b's 4 on one */
    unsigned ida = lines[first].id, idb = lines[first + 6].id;
    for (int i = first; i < first + n; i++) {
        int on_a = i < first + 6 || i == first + 8;
        CHECK_EQ(lines[i].id, on_a ? ida : idb);
        CHECK_EQ(lines[i].chan_ctr, lines[on_a ? first : first + 6].chan_ctr);
    }
    if (per_stream()) CHECK(ida != idb && lines[first].chan_ctr != lines[first + 6].chan_ctr);
    else CHECK(ida == idb);
    CHECK_EQ(cudaStreamDestroy(a), cudaSuccess);
    CHECK_EQ(cudaStreamDestroy(b), cudaSuccess);
}

typedef struct { cudaStream_t s; int ok; } thread_arg;

static void *copier(void *p) {
    thread_arg *t = p;
    t->ok = 1;
    for (unsigned r = 0; r < 20; r++) t->ok &= upload(t->s, 1 + (r * 7919u) % (3 * CHUNK), r);
    return NULL;
}

TEST_CASE(ledger_lines_of_concurrent_streams_are_whole_and_match) {
    if (!simgpuCcEnabled()) return;
    int first = recs_now();
    REQUIRE(ledger_read(lines, MAX_RECS) == first);
    thread_arg t[3] = {{cudaStreamPerThread, 0}, {NULL, 0}, {NULL, 0}};
    REQUIRE(cudaStreamCreate(&t[1].s) == cudaSuccess && cudaStreamCreateWithFlags(&t[2].s, cudaStreamNonBlocking) == 0);
    pthread_t th[3];
    for (int i = 0; i < 3; i++) REQUIRE(pthread_create(&th[i], NULL, copier, &t[i]) == 0);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        CHECK(t[i].ok);
    }
    int n = recs_now() - first;
    CHECK(n >= 60);
    REQUIRE(ledger_read(lines, MAX_RECS) == first + n);
    /* Threads interleave: match each line with the record of the same channel and IV. */
    for (int i = first; i < first + n; i++) {
        int found = 0;
        for (int j = first; j < first + n && !found; j++)
            found = !memcmp(recs[j].iv, lines[i].iv, 12) && recs[j].hash == lines[i].hash && recs[j].len == lines[i].len;
        CHECK(found);
    }
    simgpuStats st;
    simgpuGetStats(&st);
    CHECK_EQ(st.tag_failures, 0);
    cudaStreamDestroy(t[1].s);
    cudaStreamDestroy(t[2].s);
}

TEST_CASE(driver_crypto_time_is_counted_only_with_cc) {
    simgpuStats a, b;
    simgpuGetStats(&a);
    for (unsigned i = 0; i < 4; i++) {
        size_t n = 2 * CHUNK + i;
        char *src = malloc(n), *dst = calloc(1, n);
        void *d;
        fill(src, n, i);
        CHECK(cudaMalloc(&d, n) == cudaSuccess && cudaMemcpy(d, src, n, cudaMemcpyHostToDevice) == cudaSuccess &&
              cudaMemcpy(dst, d, n, cudaMemcpyDeviceToHost) == cudaSuccess && !memcmp(src, dst, n));
        cudaFree(d);
        free(src);
        free(dst);
    }
    simgpuGetStats(&b);
    if (simgpuCcEnabled()) {
        CHECK(b.h2d_driver_crypto_ns > a.h2d_driver_crypto_ns);
        CHECK(b.d2h_driver_crypto_ns > a.d2h_driver_crypto_ns);
    } else {
        CHECK_EQ(b.h2d_driver_crypto_ns, 0);
        CHECK_EQ(b.d2h_driver_crypto_ns, 0);
        CHECK_EQ(b.h2d_channels_opened, 0);
    }
}

/* ---- configuration errors, in a child ---- */

static int child_main(void) {
    int n = -1;
    cudaError_t e = cudaGetDeviceCount(&n);
    printf("count %d error %d\n", n, (int)e);
    return 0;
}

/* Runs this program as a child with VAR=VALUE; returns its stdout and stderr, together. */
static void run_child(const char *var, const char *value, char *out, size_t cap) {
    int fds[2];
    out[0] = 0;
    if (pipe(fds)) return;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        setenv(var, value, 1);
        execl("/proc/self/exe", "simgpu_channels_test", "--child", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fds[0], out + n, cap - 1 - n)) > 0) n += (size_t)r;
    out[n] = 0;
    close(fds[0]);
    waitpid(pid, NULL, 0);
}

TEST_CASE(bad_channel_and_ledger_values_are_named) {
    char out[1024];
    run_child("SIMGPU_H2D_CHANNELS", "per-copy", out, sizeof out);
    CHECK(strstr(out, "simgpu: SIMGPU_H2D_CHANNELS='per-copy' is not valid: expected per-context or per-stream\n"));
    CHECK(strstr(out, "count 0 error 3"));   /* no device, cudaErrorInitializationError */
    if (!strstr(out, "per-context or per-stream")) fprintf(stderr, "  child said: %s", out);
    run_child("SIMGPU_LEDGER", "/nonexistent-simgpu-dir/ledger", out, sizeof out);
    CHECK(strstr(out, "simgpu: SIMGPU_LEDGER='/nonexistent-simgpu-dir/ledger' is not valid: expected a file"));
    CHECK(strstr(out, "count 0 error 3"));
    run_child("SIMGPU_H2D_CHANNELS", "per-context", out, sizeof out);
    CHECK(strstr(out, "count 1 error 0"));
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--child")) return child_main();
    /* Before the first CUDA call: simgpu reads SIMGPU_LEDGER once. */
    char path[] = "/tmp/simgpu-ledger-XXXXXX";
    int own = !ledger_path();
    if (own) {
        int fd = mkstemp(path);
        if (fd < 0) return 2;
        close(fd);
        setenv("SIMGPU_LEDGER", path, 1);
    }
    int rc = tr_main(argc, argv);
    if (own) unlink(path);
    return rc;
}
