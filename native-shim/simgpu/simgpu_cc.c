/*
 * Confidential computing, as ARCHITECTURE.md section 2 describes the NVIDIA channel.
 *
 * One D2H channel per context, and one H2D channel per context or, with
 * SIMGPU_H2D_CHANNELS=per-stream, one per stream (opened on the stream's first H2D copy, closed
 * with its keys zeroed when the stream is freed). Each channel has a sequence of key epochs (a key
 * rotation or an IV rotation starts a new epoch: channel counter + 1, message counter back to 0; a
 * key rotation also draws a new key and mask) and two cursors that walk the same message sequence: the "driver"
 * cursor (the CPU side, in the calling thread) and the "copy engine" cursor (the GPU side, in the
 * stream worker). IV = (LE32 message counter || LE64 channel counter) XOR mask, counter incremented
 * before each message, one message per chunk of a copy.
 *
 * The driver side calls OpenSSL's EVP through the dynamic linker, so a preloaded library can
 * interpose it. The copy-engine side uses a private copy of libcrypto that preloaded libraries
 * never reach (see load_ce_crypto): an interposer can change what the driver sends, never how the
 * CE checks it. The CE decrypts with the IV *it* expects next and
 * writes plaintext to device memory only after the tag verified; a failure poisons the context.
 *
 * Ordering: H2D messages are produced under the channel's driver_mu (a whole copy at a time, and the
 * op is enqueued while holding it) and consumed by the CE strictly in sequence (turn = ce.seq). D2H
 * messages are produced by CE workers under d2h.ce_mu and decrypted by the calling threads in
 * sequence (turn = drv.seq). Hand-offs use g.cc_mu/g.cc_cv; crypto runs outside any lock.
 */
#include "simgpu_internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

typedef struct cc_epoch {
    unsigned char key[32];
    unsigned char mask[12];
    uint64_t chan_ctr;
    int key_rotation;          /* 1 if this epoch drew a new key, 0 if it only rotated IVs */
} cc_epoch;

typedef struct cc_cursor {
    uint64_t epoch;            /* index into the channel's epochs */
    uint32_t msg_ctr;
    uint64_t units;            /* key usage as NVIDIA counts it: bytes/16 + messages */
    uint64_t seq;              /* messages consumed so far on this side */
    unsigned char key[32], mask[12];
    uint64_t chan_ctr;
} cc_cursor;

/* Bounce buffers of one direction, shared by every channel of that direction; guarded by g.cc_mu. */
typedef struct cc_pool {
    size_t n_slots;
    char *cipher;              /* bounce buffers (shared memory in a real CVM) */
    char *plain;               /* H2D: CE-private staging for verified plaintext */
    int *free_slots;
    size_t n_free;
} cc_pool;

struct cc_channel {
    int dir;
    unsigned id;               /* H2D: 1, 2, ... in the order channels are opened (the ledger's channel-id) */
    cc_epoch *epochs;          /* guarded by g.cc_mu */
    size_t n_epochs, cap_epochs;
    uint64_t epoch_base;       /* epochs[i] is epoch epoch_base + i */
    cc_cursor drv, ce;         /* guarded by g.cc_mu */
    pthread_mutex_t driver_mu; /* H2D: one copy's messages at a time */
    pthread_mutex_t ce_mu;     /* D2H: one CE producer at a time */
    cc_pool *pool;
    struct cc_channel *next;   /* per-stream H2D channels: the live list, guarded by g.cc_mu */
};
typedef struct cc_channel cc_channel;

static cc_pool h2d_pool, d2h_pool;
/* The context's H2D channel (unused with SIMGPU_H2D_CHANNELS=per-stream) and its D2H channel. */
static cc_channel h2d = {.dir = DIR_H2D, .driver_mu = PTHREAD_MUTEX_INITIALIZER, .ce_mu = PTHREAD_MUTEX_INITIALIZER,
                         .pool = &h2d_pool};
static cc_channel d2h = {.dir = DIR_D2H, .driver_mu = PTHREAD_MUTEX_INITIALIZER, .ce_mu = PTHREAD_MUTEX_INITIALIZER,
                         .pool = &d2h_pool};
static cc_channel *stream_channels;   /* per-stream H2D channels of live streams, guarded by g.cc_mu */
static uint64_t next_chan_ctr = 1;    /* guarded by g.cc_mu */
static unsigned next_h2d_id = 1;      /* guarded by g.cc_mu */

/* ---- the copy engine's private libcrypto ---- */
static struct {
    void *handle;
    EVP_CIPHER_CTX *(*ctx_new)(void);
    void (*ctx_free)(EVP_CIPHER_CTX *);
    const EVP_CIPHER *(*gcm)(void);
    int (*enc_init)(EVP_CIPHER_CTX *, const EVP_CIPHER *, ENGINE *, const unsigned char *, const unsigned char *);
    int (*enc_update)(EVP_CIPHER_CTX *, unsigned char *, int *, const unsigned char *, int);
    int (*enc_final)(EVP_CIPHER_CTX *, unsigned char *, int *);
    int (*dec_init)(EVP_CIPHER_CTX *, const EVP_CIPHER *, ENGINE *, const unsigned char *, const unsigned char *);
    int (*dec_update)(EVP_CIPHER_CTX *, unsigned char *, int *, const unsigned char *, int);
    int (*dec_final)(EVP_CIPHER_CTX *, unsigned char *, int *);
    int (*ctrl)(EVP_CIPHER_CTX *, int, int, void *);
} ce_crypto;

static pthread_key_t ce_ctx_key, drv_ctx_key;
static __thread EVP_CIPHER_CTX *ce_ctx_tls, *drv_ctx_tls;

static void free_ce_ctx(void *p) { if (ce_crypto.ctx_free) ce_crypto.ctx_free(p); }

/* A thread that ends while the process exits must not free into a public libcrypto whose cleanup
 * may be running: it waits for the process to end instead (the context is left to it). */
static void free_drv_ctx(void *p) {
    if (simgpu_driver_enter()) return;   /* left to the process's end */
    EVP_CIPHER_CTX_free(p);
    simgpu_driver_leave();
}

/*
 * The copy engine must not go through anything a preloaded library can interpose. simgpu loads a
 * private copy of libcrypto (copied next to it at build time, so the dynamic linker treats it as a
 * different object) with RTLD_DEEPBIND: its own internal calls bind to itself, never to an
 * interposer. (dlmopen into a new link-map namespace was tried first: its second libc crashed
 * inside OpenSSL's locks in a Python host.)
 */
#ifndef SIMGPU_CE_DEEPBIND
#define SIMGPU_CE_DEEPBIND RTLD_DEEPBIND   /* sanitizer builds pass 0: their runtimes refuse DEEPBIND */
#endif

/*
 * The private copy is simgpu's alone: nothing ever needs its OPENSSL_cleanup, and the atexit
 * handler a default initialisation registers would free its library context at exit while copy
 * engines are still decrypting (they crashed in CRYPTO_THREAD_read_lock on a freed lock). So it is
 * initialised first, by hand, with OPENSSL_INIT_NO_ATEXIT.
 */
static int init_ce_crypto(void *h) {
    int (*init_crypto)(uint64_t, const void *);
    *(void **)&init_crypto = dlsym(h, "OPENSSL_init_crypto");
    if (!init_crypto || init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL) != 1) {
        simgpu_log(SIMGPU_LOG_ERROR, "cannot initialise the copy engine's private libcrypto");
        return -1;
    }
    return 0;
}

static int load_ce_crypto(void) {
    Dl_info self;
    char path[4096];
    if (!dladdr((void *)load_ce_crypto, &self) || !self.dli_fname) return -1;
    const char *slash = strrchr(self.dli_fname, '/');
    int dir_len = slash ? (int)(slash - self.dli_fname) : 1;
    snprintf(path, sizeof path, "%.*s/libsimgpu-ce-crypto.so", dir_len, slash ? self.dli_fname : ".");
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL | SIMGPU_CE_DEEPBIND);
    if (!h) {
        simgpu_log(SIMGPU_LOG_ERROR, "cannot load the copy engine's private libcrypto %s: %s", path, dlerror());
        return -1;
    }
    ce_crypto.handle = h;
    if (init_ce_crypto(h)) return -1;
#define R(field, sym) if (!(*(void **)&ce_crypto.field = dlsym(h, sym))) { simgpu_log(SIMGPU_LOG_ERROR, "private libcrypto lacks %s", sym); return -1; }
    R(ctx_new, "EVP_CIPHER_CTX_new") R(ctx_free, "EVP_CIPHER_CTX_free") R(gcm, "EVP_aes_256_gcm")
    R(enc_init, "EVP_EncryptInit_ex") R(enc_update, "EVP_EncryptUpdate") R(enc_final, "EVP_EncryptFinal_ex")
    R(dec_init, "EVP_DecryptInit_ex") R(dec_update, "EVP_DecryptUpdate") R(dec_final, "EVP_DecryptFinal_ex")
    R(ctrl, "EVP_CIPHER_CTX_ctrl")
#undef R
    return 0;
}

static EVP_CIPHER_CTX *ce_ctx(void) {
    if (!ce_ctx_tls) {
        ce_ctx_tls = ce_crypto.ctx_new();
        pthread_setspecific(ce_ctx_key, ce_ctx_tls);
    }
    return ce_ctx_tls;
}

/* The driver's context comes from the public libcrypto, like every EVP call of the driver. */
static EVP_CIPHER_CTX *drv_ctx(void) {
    if (!drv_ctx_tls) {
        drv_ctx_tls = EVP_CIPHER_CTX_new();
        if (drv_ctx_tls) pthread_setspecific(drv_ctx_key, drv_ctx_tls);
    }
    return drv_ctx_tls;
}

/* ---- poison ---- */

void simgpu_poison(cudaError_t err, const char *why) {
    int expected = 0;
    if (atomic_compare_exchange_strong(&g.poison, &expected, (int)err) && why) {
        char line[512];
        snprintf(line, sizeof line, "%s: context poisoned, every later call returns %s (%d)", why,
                 simgpu_error_name(err), (int)err);
        simgpu_log(SIMGPU_LOG_ERROR, "%s", line);
    }
    pthread_mutex_lock(&g.cc_mu);
    simgpu_wake_cc();
    pthread_mutex_unlock(&g.cc_mu);
    pthread_mutex_lock(&g.mu);
    simgpu_wake_sched();
    pthread_mutex_unlock(&g.mu);
}

cudaError_t simgpu_poisoned(void) { return (cudaError_t)atomic_load(&g.poison); }

/* ---- epochs and cursors (g.cc_mu held) ---- */

static int random_bytes(unsigned char *p, size_t n) {
    while (n) {
        ssize_t r = getrandom(p, n, 0);
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static cc_epoch *epoch_at(cc_channel *ch, uint64_t e) {
    return e >= ch->epoch_base && e - ch->epoch_base < ch->n_epochs ? &ch->epochs[e - ch->epoch_base] : NULL;
}

/* Returns epoch e, creating it (both sides reach it by the same rule) if this side is first. */
static cc_epoch *epoch_get(cc_channel *ch, uint64_t e, int key_rotation) {
    cc_epoch *x = epoch_at(ch, e);
    if (x) return x;
    if (ch->n_epochs == ch->cap_epochs) {
        size_t cap = ch->cap_epochs ? ch->cap_epochs * 2 : 8;
        cc_epoch *n = realloc(ch->epochs, cap * sizeof *n);
        if (!n) return NULL;
        ch->epochs = n;
        ch->cap_epochs = cap;
    }
    cc_epoch *prev = epoch_at(ch, e - 1);
    x = &ch->epochs[ch->n_epochs++];
    memset(x, 0, sizeof *x);
    x->chan_ctr = next_chan_ctr++;   /* bumped every time a channel is handed a key or new IVs */
    x->key_rotation = key_rotation || !prev;
    if (x->key_rotation) {
        if (random_bytes(x->key, sizeof x->key) || random_bytes(x->mask, sizeof x->mask)) return NULL;
        if (prev) simgpu_count(ST_KEY_ROTATIONS, 1);
    } else {
        memcpy(x->key, prev->key, sizeof x->key);
        memcpy(x->mask, prev->mask, sizeof x->mask);
        simgpu_count(ST_IV_ROTATIONS, 1);
    }
    return x;
}

/* Zeroes keys no cursor can use any more and drops those epochs from the table. */
static void epochs_retire(cc_channel *ch) {
    uint64_t oldest = ch->drv.epoch < ch->ce.epoch ? ch->drv.epoch : ch->ce.epoch;
    size_t drop = 0;
    while (drop < ch->n_epochs && ch->epoch_base + drop < oldest) {
        explicit_bzero(&ch->epochs[drop], sizeof ch->epochs[drop]);
        drop++;
    }
    if (drop) {
        memmove(ch->epochs, ch->epochs + drop, (ch->n_epochs - drop) * sizeof *ch->epochs);
        ch->n_epochs -= drop;
        ch->epoch_base += drop;
    }
}

static int cursor_load(cc_channel *ch, cc_cursor *cur, int key_rotation) {
    cc_epoch *x = epoch_get(ch, cur->epoch, key_rotation);
    if (!x) return -1;
    memcpy(cur->key, x->key, sizeof cur->key);
    memcpy(cur->mask, x->mask, sizeof cur->mask);
    cur->chan_ctr = x->chan_ctr;
    return 0;
}

/* Advances a cursor by one message of len bytes and gives the IV (and key, in cur->key) to use. */
static int cursor_next(cc_channel *ch, cc_cursor *cur, size_t len, unsigned char iv[12]) {
    uint64_t units = len / 16 + 1;
    uint64_t limit_units = g.cfg.key_rotation_bytes / 16;
    int key_rot = cur->units > 0 && cur->units + units > limit_units;
    int iv_rot = !key_rot && cur->msg_ctr >= g.cfg.iv_rotation_messages;
    if (key_rot || iv_rot) {
        cur->epoch++;
        cur->msg_ctr = 0;
        if (key_rot) cur->units = 0;
        if (cursor_load(ch, cur, key_rot)) return -1;
        epochs_retire(ch);
    }
    cur->msg_ctr++;
    cur->units += units;
    cur->seq++;
    unsigned char raw[12];
    for (int i = 0; i < 4; i++) raw[i] = (unsigned char)(cur->msg_ctr >> (8 * i));
    for (int i = 0; i < 8; i++) raw[4 + i] = (unsigned char)(cur->chan_ctr >> (8 * i));
    for (int i = 0; i < 12; i++) iv[i] = raw[i] ^ cur->mask[i];
    return 0;
}

/* A new channel (g.cc_mu held): fresh key and mask, the next channel counter, cursors at the start. */
static int channel_open(cc_channel *ch) {
    ch->n_epochs = 0;
    ch->epoch_base = 0;
    memset(&ch->drv, 0, sizeof ch->drv);
    memset(&ch->ce, 0, sizeof ch->ce);
    if (ch->dir == DIR_H2D) {
        ch->id = next_h2d_id++;
        simgpu_count(ST_H2D_CHANNELS_OPENED, 1);
    }
    if (cursor_load(ch, &ch->drv, 1) || cursor_load(ch, &ch->ce, 1)) return -1;
    return 0;
}

/* Zeroes every key and mask the channel holds (g.cc_mu held); the epoch table stays allocated. */
static void channel_wipe(cc_channel *ch) {
    if (ch->epochs) explicit_bzero(ch->epochs, ch->cap_epochs * sizeof *ch->epochs);
    explicit_bzero(&ch->drv, sizeof ch->drv);
    explicit_bzero(&ch->ce, sizeof ch->ce);
    if (ch->dir == DIR_H2D) simgpu_count(ST_H2D_CHANNELS_CLOSED, 1);
}

static int pool_init(cc_pool *pl, int with_plain) {
    pl->n_slots = g.cfg.bounce_pool_bytes / g.cfg.chunk_bytes;
    size_t bytes = pl->n_slots * g.cfg.chunk_bytes;
    pl->cipher = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pl->cipher == MAP_FAILED) return -1;
    if (with_plain) {
        pl->plain = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (pl->plain == MAP_FAILED) return -1;
    }
    pl->free_slots = calloc(pl->n_slots, sizeof *pl->free_slots);
    if (!pl->free_slots) return -1;
    for (size_t i = 0; i < pl->n_slots; i++) pl->free_slots[i] = (int)(pl->n_slots - 1 - i);
    pl->n_free = pl->n_slots;
    return 0;
}

/*
 * The driver's first use of the public libcrypto, at channel setup as in the real driver (which
 * runs its key exchange there): the cipher every copy will use must be there. That first use also
 * makes the public libcrypto register its OPENSSL_cleanup with atexit now, before simgpu registers
 * its own exit handler (simgpu_exit.c): handlers run in reverse order, so simgpu's runs first and
 * stops the driver before that cleanup. EVP_CIPHER_fetch is not one of the calls a copy makes, so
 * an interposer of those sees nothing new; the library is initialised by its default path, as any
 * first EVP call would.
 */
static int driver_crypto_ready(void) {
    EVP_CIPHER *gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    EVP_CIPHER_free(gcm);
    if (!gcm) simgpu_log(SIMGPU_LOG_ERROR, "the process's libcrypto offers no AES-256-GCM");
    return gcm ? 0 : -1;
}

int simgpu_cc_init(void) {
    if (load_ce_crypto() || driver_crypto_ready()) return -1;
    if (pthread_key_create(&ce_ctx_key, free_ce_ctx) || pthread_key_create(&drv_ctx_key, free_drv_ctx)) return -1;
    if (pool_init(&h2d_pool, 1) || pool_init(&d2h_pool, 0)) {
        simgpu_log(SIMGPU_LOG_ERROR, "cannot allocate the bounce buffers (SIMGPU_BOUNCE_POOL_BYTES)");
        return -1;
    }
    pthread_mutex_lock(&g.cc_mu);
    /* Per-stream H2D channels open on each stream's first H2D copy (h2d_channel_of). */
    int rc = (!g.cfg.h2d_per_stream && channel_open(&h2d)) || channel_open(&d2h);
    pthread_mutex_unlock(&g.cc_mu);
    return rc ? -1 : 0;
}

void simgpu_cc_reset(void) {
    /* A new context gets new channels: fresh keys and masks, the next channel counter. The streams
     * the reset destroyed close theirs when they are freed; the surviving ones (the legacy stream,
     * per-thread streams) get new ones here. */
    pthread_mutex_lock(&g.cc_mu);
    cc_channel *chs[2] = {&h2d, &d2h};
    for (int i = 0; i < 2; i++) {
        if (chs[i] == &h2d && g.cfg.h2d_per_stream) continue;
        channel_wipe(chs[i]);
        channel_open(chs[i]);
    }
    for (cc_channel *ch = stream_channels; ch; ch = ch->next) {
        channel_wipe(ch);
        channel_open(ch);
    }
    pthread_mutex_unlock(&g.cc_mu);
}

/* The H2D channel of stream s: the context's, or (per-stream) the stream's own, opened on its first
 * H2D copy. NULL when out of memory. */
static cc_channel *h2d_channel_of(simgpu_stream *s) {
    if (!g.cfg.h2d_per_stream) return &h2d;
    pthread_mutex_lock(&g.cc_mu);
    cc_channel *ch = s->h2d_chan;
    if (!ch && (ch = calloc(1, sizeof *ch))) {
        ch->dir = DIR_H2D;
        ch->pool = &h2d_pool;
        pthread_mutex_init(&ch->driver_mu, NULL);
        pthread_mutex_init(&ch->ce_mu, NULL);
        if (channel_open(ch)) {
            channel_wipe(ch);
            free(ch->epochs);
            free(ch);
            ch = NULL;
        } else {
            ch->next = stream_channels;
            stream_channels = ch;
            s->h2d_chan = ch;
        }
    }
    pthread_mutex_unlock(&g.cc_mu);
    return ch;
}

void simgpu_cc_stream_free(simgpu_stream *s) {
    pthread_mutex_lock(&g.cc_mu);
    cc_channel *ch = s->h2d_chan;
    if (ch) {
        for (cc_channel **p = &stream_channels; *p; p = &(*p)->next)
            if (*p == ch) {
                *p = ch->next;
                break;
            }
        channel_wipe(ch);
        s->h2d_chan = NULL;
    }
    pthread_mutex_unlock(&g.cc_mu);
    if (!ch) return;
    free(ch->epochs);
    pthread_mutex_destroy(&ch->driver_mu);
    pthread_mutex_destroy(&ch->ce_mu);
    free(ch);
}

/* ---- SIMGPU_LEDGER: one line per H2D message, as it left the driver ---- */

static uint64_t fnv1a64(uint64_t h, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* "h2d <channel-id> <chan_ctr> <iv, 24 hex> <len> <FNV-1a 64 of ciphertext || tag, 16 hex>\n", with
 * one write(2) on an O_APPEND descriptor: lines of concurrent threads never interleave, and every
 * line written is in the file whatever way the process ends. */
static void ledger_write(const cc_channel *ch, uint64_t chan_ctr, const unsigned char iv[12], size_t len,
                         const unsigned char *cipher, const unsigned char tag[16]) {
    uint64_t h = fnv1a64(fnv1a64(0xcbf29ce484222325ull, cipher, len), tag, 16);
    char line[128], hex[25];
    for (int i = 0; i < 12; i++) snprintf(hex + 2 * i, 3, "%02x", iv[i]);
    int n = snprintf(line, sizeof line, "h2d %u %llu %s %zu %016llx\n", ch->id, (unsigned long long)chan_ctr, hex,
                     len, (unsigned long long)h);
    ssize_t w;
    do w = write(g.cfg.ledger_fd, line, (size_t)n); while (w < 0 && errno == EINTR);
    if (w != n) {
        static _Atomic int reported;
        if (!atomic_exchange(&reported, 1))
            simgpu_log(SIMGPU_LOG_ERROR, "cannot append to SIMGPU_LEDGER %s: lines are missing", g.cfg.ledger_path);
    }
}

/* ---- segments of a 2D region, walked in packed order ---- */

typedef struct seg_iter { char *base; size_t pitch, width, off, left; } seg_iter;

static seg_iter segs(char *base, size_t pitch, size_t width, size_t off, size_t len) {
    return (seg_iter){base, pitch, width, off, len};
}

static int seg_next(seg_iter *it, char **p, size_t *n) {
    if (!it->left) return 0;
    size_t row = it->off / it->width, col = it->off % it->width;
    *n = it->width - col < it->left ? it->width - col : it->left;
    *p = it->base + row * it->pitch + col;
    it->off += *n;
    it->left -= *n;
    return 1;
}

static int sampled_out(uint64_t seq) {
    return g.cfg.verify_every > 1 && seq % g.cfg.verify_every != 0;
}

static void slot_return(cc_channel *ch, int slot) {
    pthread_mutex_lock(&g.cc_mu);
    ch->pool->free_slots[ch->pool->n_free++] = slot;
    simgpu_wake_cc();
    pthread_mutex_unlock(&g.cc_mu);
}

static void slots_release_locked(cc_channel *ch, simgpu_op *op, size_t from, size_t to) {
    for (size_t i = from; i < to; i++) ch->pool->free_slots[ch->pool->n_free++] = op->u.copy.msgs[i].slot;
    simgpu_wake_cc();
}

static int alloc_msgs(simgpu_op *op) {
    size_t total = simgpu_copy_bytes(&op->u.copy.c);
    op->u.copy.n_msgs = (total + g.cfg.chunk_bytes - 1) / g.cfg.chunk_bytes;
    op->u.copy.msgs = calloc(op->u.copy.n_msgs, sizeof *op->u.copy.msgs);
    return op->u.copy.msgs ? 0 : -1;
}

/* ---- H2D: driver part (calling thread) ---- */

static int driver_encrypt(const simgpu_copy *c, size_t off, size_t len, const unsigned char *key,
                          const unsigned char iv[12], unsigned char *out, unsigned char tag[16]) {
    EVP_CIPHER_CTX *ctx = drv_ctx();
    if (!ctx || EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv) != 1) return -1;
    seg_iter it = segs((char *)c->src, c->spitch, c->width, off, len);
    char *p;
    size_t n;
    int outl, pos = 0;
    while (seg_next(&it, &p, &n)) {
        /* plaintext straight from the caller's buffer into the bounce buffer */
        if (EVP_EncryptUpdate(ctx, out + pos, &outl, (const unsigned char *)p, (int)n) != 1) return -1;
        pos += outl;
    }
    if (EVP_EncryptFinal_ex(ctx, out + pos, &outl) != 1) return -1;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1) return -1;
    return 0;
}

cudaError_t simgpu_cc_h2d_submit(simgpu_stream *s, simgpu_op *op, uint64_t *seq_out) {
    cc_channel *ch = h2d_channel_of(s);
    const simgpu_copy *c = &op->u.copy.c;
    if (!ch || alloc_msgs(op)) {
        free(op->u.copy.msgs);
        free(op);
        return cudaErrorMemoryAllocation;
    }
    op->u.copy.chan = ch;   /* the stream outlives its ops: the channel is freed with the stream */
    cc_pool *pool = ch->pool;
    size_t n = op->u.copy.n_msgs;
    simgpu_msg *msgs = op->u.copy.msgs;
    pthread_mutex_lock(&ch->driver_mu);
    cudaError_t sticky = simgpu_poisoned();
    if (sticky) {
        pthread_mutex_unlock(&ch->driver_mu);
        free(msgs);
        free(op);
        return sticky;
    }
    /* Enqueued while holding driver_mu: stream order and IV order agree. */
    *seq_out = simgpu_submit(s, op);
    cudaError_t stop = cudaSuccess;
    size_t chunk = g.cfg.chunk_bytes, total = simgpu_copy_bytes(c);
    for (size_t i = 0; i < n; i++) {
        size_t off = i * chunk, len = total - off < chunk ? total - off : chunk;
        unsigned char iv[12], key[32];
        pthread_mutex_lock(&g.cc_mu);
        if (!pool->n_free && !simgpu_poisoned()) simgpu_count(ST_BOUNCE_WAITS, 1);
        while (!pool->n_free && !simgpu_poisoned()) simgpu_wait_cc();
        if (simgpu_poisoned()) {
            pthread_mutex_unlock(&g.cc_mu);
            break;
        }
        int slot = pool->free_slots[--pool->n_free];
        uint64_t seq = ch->drv.seq;
        int rc = cursor_next(ch, &ch->drv, len, iv);
        uint64_t chan_ctr = ch->drv.chan_ctr;
        memcpy(key, ch->drv.key, sizeof key);
        pthread_mutex_unlock(&g.cc_mu);
        msgs[i] = (simgpu_msg){.slot = slot, .seq = seq, .offset = off, .len = len};
        unsigned char *out = (unsigned char *)pool->cipher + (size_t)slot * chunk;
        if (simgpu_driver_enter()) {   /* the process is exiting: no more EVP */
            explicit_bzero(key, sizeof key);
            slot_return(ch, slot);
            stop = cudaErrorCudartUnloading;
            break;
        }
        int enc_failed = rc;
        if (!rc) {
            uint64_t t0 = simgpu_now_ns();
            enc_failed = driver_encrypt(c, off, len, key, iv, out, msgs[i].tag);
            simgpu_count(ST_H2D_DRIVER_CRYPTO_NS, simgpu_now_ns() - t0);
        }
        simgpu_driver_leave();
        if (enc_failed) simgpu_poison(cudaErrorUnknown, "H2D driver: an EVP encryption call failed");
        else if (g.cfg.ledger_fd >= 0) ledger_write(ch, chan_ctr, iv, len, out, msgs[i].tag);
        explicit_bzero(key, sizeof key);
        if (sampled_out(seq))   /* sampled verification: the CE takes this plaintext unchecked */
            simgpu_gather(c, 1, off, len, pool->plain + (size_t)slot * chunk);
        simgpu_count(ST_H2D_MESSAGES, 1);
        pthread_mutex_lock(&g.cc_mu);
        if (simgpu_poisoned()) {
            pthread_mutex_unlock(&g.cc_mu);
            slot_return(ch, slot);   /* the CE may have left: give the slot back here */
            break;
        }
        op->u.copy.produced = i + 1;
        simgpu_wake_cc();
        pthread_mutex_unlock(&g.cc_mu);
    }
    pthread_mutex_unlock(&ch->driver_mu);
    return stop ? stop : simgpu_poisoned();
}

/* ---- H2D: copy-engine part (stream worker) ---- */

static int ce_decrypt(const unsigned char *key, const unsigned char iv[12], const unsigned char *in, size_t len,
                      unsigned char tag[16], unsigned char *out) {
    EVP_CIPHER_CTX *ctx = ce_ctx();
    int outl, fl;
    if (!ctx || ce_crypto.dec_init(ctx, ce_crypto.gcm(), NULL, key, iv) != 1) return -1;
    if (len && ce_crypto.dec_update(ctx, out, &outl, in, (int)len) != 1) return -1;
    if (ce_crypto.ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) != 1) return -1;
    return ce_crypto.dec_final(ctx, out + (len ? outl : 0), &fl) == 1 ? 0 : -1;
}

static void h2d_execute(simgpu_op *op) {
    cc_channel *ch = op->u.copy.chan;
    const simgpu_copy *c = &op->u.copy.c;
    size_t chunk = g.cfg.chunk_bytes;
    for (size_t i = 0; i < op->u.copy.n_msgs; i++) {
        simgpu_msg *m = &op->u.copy.msgs[i];
        unsigned char iv[12], key[32];
        pthread_mutex_lock(&g.cc_mu);
        while (!(op->u.copy.produced > i && ch->ce.seq == m->seq) && !simgpu_poisoned())
            simgpu_wait_cc();
        if (simgpu_poisoned()) {
            slots_release_locked(ch, op, i, op->u.copy.produced);
            pthread_mutex_unlock(&g.cc_mu);
            return;
        }
        uint64_t seq = ch->ce.seq;
        int rc = cursor_next(ch, &ch->ce, m->len, iv);   /* the IV the CE expects, never the sender's */
        memcpy(key, ch->ce.key, sizeof key);
        simgpu_wake_cc();
        pthread_mutex_unlock(&g.cc_mu);
        unsigned char *cipher = (unsigned char *)ch->pool->cipher + (size_t)m->slot * chunk;
        unsigned char *plain = (unsigned char *)ch->pool->plain + (size_t)m->slot * chunk;
        int verified = !sampled_out(seq);
        if (verified && (rc || ce_decrypt(key, iv, cipher, m->len, m->tag, plain))) {
            explicit_bzero(key, sizeof key);
            explicit_bzero(plain, m->len);
            simgpu_count(ST_TAG_FAILURES, 1);
            char why[160];
            snprintf(why, sizeof why, "H2D message %llu (%zu bytes) failed authentication (GCM tag mismatch)",
                     (unsigned long long)seq, m->len);
            simgpu_poison(cudaErrorLaunchFailure, why);
            pthread_mutex_lock(&g.cc_mu);
            slots_release_locked(ch, op, i, op->u.copy.produced);
            pthread_mutex_unlock(&g.cc_mu);
            return;   /* nothing of this message reached device memory */
        }
        explicit_bzero(key, sizeof key);
        simgpu_count(verified ? ST_VERIFIED_MESSAGES : ST_UNVERIFIED_MESSAGES, 1);
        simgpu_scatter(c, m->offset, m->len, (const char *)plain);
        slot_return(ch, m->slot);
    }
}

/* ---- D2H: copy-engine part (stream worker) ---- */

static int ce_encrypt(const simgpu_copy *c, size_t off, size_t len, const unsigned char *key,
                      const unsigned char iv[12], unsigned char *out, unsigned char tag[16]) {
    EVP_CIPHER_CTX *ctx = ce_ctx();
    if (!ctx || ce_crypto.enc_init(ctx, ce_crypto.gcm(), NULL, key, iv) != 1) return -1;
    seg_iter it = segs((char *)c->src, c->spitch, c->width, off, len);
    char *p;
    size_t n;
    int outl, pos = 0;
    while (seg_next(&it, &p, &n)) {
        if (ce_crypto.enc_update(ctx, out + pos, &outl, (const unsigned char *)p, (int)n) != 1) return -1;
        pos += outl;
    }
    if (ce_crypto.enc_final(ctx, out + pos, &outl) != 1) return -1;
    return ce_crypto.ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1 ? 0 : -1;
}

static void d2h_execute(simgpu_op *op) {
    cc_channel *ch = &d2h;
    const simgpu_copy *c = &op->u.copy.c;
    size_t chunk = g.cfg.chunk_bytes, total = simgpu_copy_bytes(c);
    pthread_mutex_lock(&ch->ce_mu);   /* one producer at a time: publication order = IV order */
    for (size_t i = 0; i < op->u.copy.n_msgs; i++) {
        size_t off = i * chunk, len = total - off < chunk ? total - off : chunk;
        unsigned char iv[12], key[32];
        pthread_mutex_lock(&g.cc_mu);
        while (!ch->pool->n_free && !simgpu_poisoned()) simgpu_wait_cc();
        if (simgpu_poisoned()) {
            pthread_mutex_unlock(&g.cc_mu);
            break;
        }
        int slot = ch->pool->free_slots[--ch->pool->n_free];
        uint64_t seq = ch->ce.seq;
        int rc = cursor_next(ch, &ch->ce, len, iv);
        memcpy(key, ch->ce.key, sizeof key);
        pthread_mutex_unlock(&g.cc_mu);
        simgpu_msg m = {.slot = slot, .seq = seq, .offset = off, .len = len};
        if (rc || ce_encrypt(c, off, len, key, iv, (unsigned char *)ch->pool->cipher + (size_t)slot * chunk, m.tag))
            simgpu_poison(cudaErrorUnknown, "D2H copy engine: encryption failed");
        explicit_bzero(key, sizeof key);
        pthread_mutex_lock(&g.cc_mu);
        if (simgpu_poisoned()) {
            pthread_mutex_unlock(&g.cc_mu);
            slot_return(ch, slot);
            break;
        }
        op->u.copy.msgs[i] = m;
        op->u.copy.produced = i + 1;
        simgpu_wake_cc();
        pthread_mutex_unlock(&g.cc_mu);
    }
    pthread_mutex_unlock(&ch->ce_mu);
}

void simgpu_cc_execute(simgpu_op *op) {
    if (op->u.copy.c.dir == DIR_H2D) h2d_execute(op);
    else d2h_execute(op);
}

/* ---- D2H: driver part (calling thread) ---- */

static int driver_decrypt(const simgpu_copy *c, size_t off, size_t len, const unsigned char *key,
                          const unsigned char iv[12], const unsigned char *in, unsigned char tag[16]) {
    EVP_CIPHER_CTX *ctx = drv_ctx();
    if (!ctx || EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv) != 1) return -1;
    seg_iter it = segs(c->dst, c->dpitch, c->width, off, len);
    char *p;
    size_t n;
    int outl, pos = 0;
    while (seg_next(&it, &p, &n)) {
        if (EVP_DecryptUpdate(ctx, (unsigned char *)p, &outl, in + pos, (int)n) != 1) return -1;
        pos += (int)n;
    }
    unsigned char last[16];
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) != 1) return -1;
    return EVP_DecryptFinal_ex(ctx, last, &outl) == 1 ? 0 : -1;
}

cudaError_t simgpu_cc_d2h_submit(simgpu_stream *s, simgpu_op *op, uint64_t *seq_out) {
    cc_channel *ch = &d2h;
    const simgpu_copy *c = &op->u.copy.c;
    if (alloc_msgs(op)) {
        free(op);
        return cudaErrorMemoryAllocation;
    }
    size_t n = op->u.copy.n_msgs, chunk = g.cfg.chunk_bytes;
    simgpu_msg *msgs = op->u.copy.msgs;
    atomic_fetch_add(&op->refs, 1);   /* ours until every message is decrypted */
    *seq_out = simgpu_submit(s, op);
    cudaError_t stop = cudaSuccess;
    /* Host-synchronous, as under real CC: this thread decrypts each message as the CE emits it. */
    for (size_t i = 0; i < n; i++) {
        unsigned char iv[12], key[32];
        pthread_mutex_lock(&g.cc_mu);
        while (!(op->u.copy.produced > i && ch->drv.seq == msgs[i].seq) && !simgpu_poisoned())
            simgpu_wait_cc();
        if (simgpu_poisoned()) {
            slots_release_locked(ch, op, i, op->u.copy.produced);
            pthread_mutex_unlock(&g.cc_mu);
            break;
        }
        uint64_t seq = ch->drv.seq;
        int rc = cursor_next(ch, &ch->drv, msgs[i].len, iv);
        memcpy(key, ch->drv.key, sizeof key);
        simgpu_wake_cc();
        pthread_mutex_unlock(&g.cc_mu);
        const unsigned char *in = (const unsigned char *)ch->pool->cipher + (size_t)msgs[i].slot * chunk;
        if (simgpu_driver_enter()) {   /* the process is exiting: no more EVP */
            explicit_bzero(key, sizeof key);
            pthread_mutex_lock(&g.cc_mu);
            slots_release_locked(ch, op, i, op->u.copy.produced);
            pthread_mutex_unlock(&g.cc_mu);
            stop = cudaErrorCudartUnloading;
            break;
        }
        int dec_failed = rc;
        if (!rc) {
            uint64_t t0 = simgpu_now_ns();
            dec_failed = driver_decrypt(c, msgs[i].offset, msgs[i].len, key, iv, in, msgs[i].tag);
            simgpu_count(ST_D2H_DRIVER_CRYPTO_NS, simgpu_now_ns() - t0);
        }
        simgpu_driver_leave();
        if (dec_failed) {
            /* No unauthenticated plaintext stays behind. */
            seg_iter it = segs(c->dst, c->dpitch, c->width, msgs[i].offset, msgs[i].len);
            char *p;
            size_t len;
            while (seg_next(&it, &p, &len)) memset(p, 0, len);
            simgpu_count(ST_TAG_FAILURES, 1);
            char why[160];
            snprintf(why, sizeof why, "D2H message %llu (%zu bytes) failed authentication (GCM tag mismatch)",
                     (unsigned long long)seq, msgs[i].len);
            explicit_bzero(key, sizeof key);
            simgpu_poison(cudaErrorLaunchFailure, why);
            pthread_mutex_lock(&g.cc_mu);
            slots_release_locked(ch, op, i, op->u.copy.produced);
            pthread_mutex_unlock(&g.cc_mu);
            break;
        }
        explicit_bzero(key, sizeof key);
        simgpu_count(ST_D2H_MESSAGES, 1);
        simgpu_count(ST_VERIFIED_MESSAGES, 1);
        slot_return(ch, msgs[i].slot);
    }
    simgpu_op_release(op);
    return stop ? stop : simgpu_poisoned();
}
