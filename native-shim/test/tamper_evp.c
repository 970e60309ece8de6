/*
 * Test interposers on OpenSSL's EVP, preloaded in front of simgpu's driver part. One source, one
 * library per TAMPER_MODE:
 *   flip   flips one ciphertext bit of the 2nd H2D message after EVP_EncryptUpdate;
 *   iv     encrypts the 2nd H2D message under a different IV;
 *   skip   encrypts a message under the *next* IV (derivable exactly once the counter is even);
 *   d2h    flips one ciphertext bit before the 1st D2H EVP_DecryptUpdate;
 *   count  changes nothing and counts the EVP calls (read with tamper_counts()).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <string.h>

typedef int (*init_fn)(EVP_CIPHER_CTX *, const EVP_CIPHER *, ENGINE *, const unsigned char *, const unsigned char *);
typedef int (*update_fn)(EVP_CIPHER_CTX *, unsigned char *, int *, const unsigned char *, int);
typedef int (*final_fn)(EVP_CIPHER_CTX *, unsigned char *, int *);
typedef int (*ctrl_fn)(EVP_CIPHER_CTX *, int, int, void *);

static _Atomic long counts[8];   /* enc init, enc update, enc final, get tag, dec init, dec update, dec final, set tag */
static _Atomic int enc_messages, dec_messages, acted;
static unsigned char prev_iv[12];

#define REAL(type, name) ((type)dlsym(RTLD_NEXT, name))

__attribute__((visibility("default"))) void tamper_counts(long out[8], int *acted_out) {
    for (int i = 0; i < 8; i++) out[i] = counts[i];
    *acted_out = acted;
}

int EVP_EncryptInit_ex(EVP_CIPHER_CTX *c, const EVP_CIPHER *t, ENGINE *e, const unsigned char *key, const unsigned char *iv) {
    counts[0]++;
    int m = ++enc_messages;
    unsigned char changed[12];
    const unsigned char *use = iv;
    if (iv) {
        memcpy(changed, iv, 12);
#if TAMPER_MODE_IV
        if (m == 2 && !acted) { changed[11] ^= 0x40; use = changed; acted = 1; }
#elif TAMPER_MODE_SKIP
        /* prev XOR cur = (c-1) XOR c in byte 0..3 (the mask cancels): != 1 means c is even, and
         * then IV(c+1) = IV(c) with bit 0 flipped. */
        if (m >= 2 && !acted && (prev_iv[0] ^ iv[0]) != 1 && !memcmp(prev_iv + 4, iv + 4, 8)) {
            changed[0] ^= 1; use = changed; acted = 1;
        }
#endif
        memcpy(prev_iv, iv, 12);
    }
    return REAL(init_fn, "EVP_EncryptInit_ex")(c, t, e, key, use);
}

int EVP_EncryptUpdate(EVP_CIPHER_CTX *c, unsigned char *out, int *outl, const unsigned char *in, int inl) {
    counts[1]++;
    int rc = REAL(update_fn, "EVP_EncryptUpdate")(c, out, outl, in, inl);
#if TAMPER_MODE_FLIP
    if (enc_messages == 2 && !acted && rc == 1 && *outl > 0) { out[*outl / 2] ^= 0x01; acted = 1; }
#endif
    return rc;
}

int EVP_EncryptFinal_ex(EVP_CIPHER_CTX *c, unsigned char *out, int *outl) {
    counts[2]++;
    return REAL(final_fn, "EVP_EncryptFinal_ex")(c, out, outl);
}

int EVP_DecryptInit_ex(EVP_CIPHER_CTX *c, const EVP_CIPHER *t, ENGINE *e, const unsigned char *key, const unsigned char *iv) {
    counts[4]++;
    ++dec_messages;
    return REAL(init_fn, "EVP_DecryptInit_ex")(c, t, e, key, iv);
}

int EVP_DecryptUpdate(EVP_CIPHER_CTX *c, unsigned char *out, int *outl, const unsigned char *in, int inl) {
    counts[5]++;
#if TAMPER_MODE_D2H
    if (dec_messages == 1 && !acted && inl > 0) { ((unsigned char *)in)[inl / 2] ^= 0x80; acted = 1; }
#endif
    return REAL(update_fn, "EVP_DecryptUpdate")(c, out, outl, in, inl);
}

int EVP_DecryptFinal_ex(EVP_CIPHER_CTX *c, unsigned char *out, int *outl) {
    counts[6]++;
    return REAL(final_fn, "EVP_DecryptFinal_ex")(c, out, outl);
}

int EVP_CIPHER_CTX_ctrl(EVP_CIPHER_CTX *c, int type, int arg, void *ptr) {
    if (type == EVP_CTRL_GCM_GET_TAG) counts[3]++;
    if (type == EVP_CTRL_GCM_SET_TAG) counts[7]++;
    return REAL(ctrl_fn, "EVP_CIPHER_CTX_ctrl")(c, type, arg, ptr);
}
