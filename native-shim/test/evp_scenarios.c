/*
 * AES-256-GCM through every OpenSSL 3 entry point a program may use on one cipher context: re-IV and
 * re-key through EVP_CipherInit_ex and the _ex2 variants, EVP_CIPHER_CTX_copy in the middle of a
 * message, the tag through get/set_params, a context reused after a finished message, the Cipher*
 * and pre-1.1 names, AAD, in-place updates, a bad tag. Each scenario prints one line: its name, a
 * digest of what OpenSSL wrote, and "ok" when the result also decrypts and verifies under the key
 * and IV that should have been used (checked with fresh contexts).
 *
 * Built twice: as the host's own crypto (libevp_host_scenarios.so), and under a name the shim takes
 * for NVIDIA's PKCS#11 library (libnvidia-pkcs11-pipellm-test.so), so the same calls come from "the
 * driver" and reach the agent. shim_e2e_test.py compares the output with and without the shim.
 */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 70001
#define CUT1 4097
#define CUT2 40000

static unsigned char key1[32], key2[32], iv1[12], iv2[12], pt[N], aad[45];

static uint64_t fnv(const unsigned char *p, size_t n, uint64_t h) {
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static int report(FILE *out, const char *name, const unsigned char *ct, size_t n, const unsigned char *tag, int ok) {
    fprintf(out, "%-22s %016llx ", name, (unsigned long long)fnv(ct, n, 0xcbf29ce484222325ULL));
    for (int i = 0; i < 16; i++) fprintf(out, "%02x", tag ? tag[i] : 0);
    fprintf(out, " %s\n", ok ? "ok" : "MISMATCH");
    return ok ? 0 : 1;
}

/* Decrypts ct under (key, iv, aad) with a fresh context and checks tag and plaintext. */
static int verifies(const unsigned char *key, const unsigned char *iv, const unsigned char *a, int alen,
                    const unsigned char *ct, int n, const unsigned char *tag, const unsigned char *expect) {
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    unsigned char *back = malloc((size_t)n + 16);
    int outl, ok = c && back && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv) == 1;
    if (ok && alen) ok = EVP_DecryptUpdate(c, NULL, &outl, a, alen) == 1;
    ok = ok && EVP_DecryptUpdate(c, back, &outl, ct, n) == 1 && outl == n;
    ok = ok && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)tag) == 1;
    ok = ok && EVP_DecryptFinal_ex(c, back + n, &outl) == 1 && !memcmp(back, expect, (size_t)n);
    EVP_CIPHER_CTX_free(c);
    free(back);
    return ok;
}

/* Three updates over pt, final, tag: the driver's shape. */
static int encrypt_rest(EVP_CIPHER_CTX *c, unsigned char *ct, unsigned char *tag) {
    int l1, l2, l3, lf;
    return EVP_EncryptUpdate(c, ct, &l1, pt, CUT1) == 1 && EVP_EncryptUpdate(c, ct + l1, &l2, pt + CUT1, CUT2 - CUT1) == 1
           && EVP_EncryptUpdate(c, ct + l1 + l2, &l3, pt + CUT2, N - CUT2) == 1 && l1 + l2 + l3 == N
           && EVP_EncryptFinal_ex(c, ct + N, &lf) == 1 && lf == 0
           && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
}

typedef struct result { unsigned char ct[N + 16], tag[16]; } result;

static int plain(FILE *o, result *r) {
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int ok = EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key1, iv1) == 1 && encrypt_rest(c, r->ct, r->tag);
    EVP_CIPHER_CTX_free(c);
    return report(o, "plain", r->ct, N, r->tag, ok && verifies(key1, iv1, NULL, 0, r->ct, N, r->tag, pt));
}

static int reiv_cipherinit(FILE *o, result *r) {
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int ok = EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key1, iv1) == 1
             && EVP_CipherInit_ex(c, NULL, NULL, NULL, iv2, 1) == 1 && encrypt_rest(c, r->ct, r->tag);
    EVP_CIPHER_CTX_free(c);
    return report(o, "reiv_cipherinit_ex", r->ct, N, r->tag, ok && verifies(key1, iv2, NULL, 0, r->ct, N, r->tag, pt));
}

static int reiv_ex2(FILE *o, result *r) {
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int ok = EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key1, iv1) == 1
             && EVP_EncryptInit_ex2(c, NULL, NULL, iv2, NULL) == 1 && encrypt_rest(c, r->ct, r->tag);
    EVP_CIPHER_CTX_free(c);
    return report(o, "reiv_encryptinit_ex2", r->ct, N, r->tag, ok && verifies(key1, iv2, NULL, 0, r->ct, N, r->tag, pt));
}

static int rekey_ex2(FILE *o, result *r) {
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int ok = EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key1, iv1) == 1
             && EVP_CipherInit_ex2(c, NULL, key2, iv2, 1, NULL) == 1 && encrypt_rest(c, r->ct, r->tag);
    EVP_CIPHER_CTX_free(c);
    return report(o, "rekey_cipherinit_ex2", r->ct, N, r->tag, ok && verifies(key2, iv2, NULL, 0, r->ct, N, r->tag, pt));
}

static int copy_mid_message(FILE *o, result *r) {
    static unsigned char ct2[N + 16], tag2[16];
    EVP_CIPHER_CTX *a = EVP_CIPHER_CTX_new(), *b = EVP_CIPHER_CTX_new();
    int l1, l2, l3, lf;
    int ok = EVP_EncryptInit_ex(a, EVP_aes_256_gcm(), NULL, key1, iv1) == 1 && EVP_EncryptUpdate(a, r->ct, &l1, pt, CUT1) == 1
             && EVP_CIPHER_CTX_copy(b, a) == 1;
    memcpy(ct2, r->ct, (size_t)CUT1);
    ok = ok && EVP_EncryptUpdate(a, r->ct + CUT1, &l2, pt + CUT1, N - CUT1) == 1
         && EVP_EncryptUpdate(b, ct2 + CUT1, &l3, pt + CUT1, N - CUT1) == 1 && l1 + l2 == N && l2 == l3
         && EVP_EncryptFinal_ex(a, r->ct + N, &lf) == 1 && EVP_EncryptFinal_ex(b, ct2 + N, &lf) == 1
         && EVP_CIPHER_CTX_ctrl(a, EVP_CTRL_GCM_GET_TAG, 16, r->tag) == 1
         && EVP_CIPHER_CTX_ctrl(b, EVP_CTRL_GCM_GET_TAG, 16, tag2) == 1;
    ok = ok && !memcmp(ct2, r->ct, N) && !memcmp(tag2, r->tag, 16);
    EVP_CIPHER_CTX_free(a);
    EVP_CIPHER_CTX_free(b);
    return report(o, "copy_mid_message", r->ct, N, r->tag, ok && verifies(key1, iv1, NULL, 0, r->ct, N, r->tag, pt));
}

static int tag_through_params(FILE *o, result *r) {
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int l, lf;
    OSSL_PARAM get[2] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, r->tag, 16), OSSL_PARAM_construct_end()};
    int ok = EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key2, iv1) == 1 && EVP_EncryptUpdate(c, r->ct, &l, pt, N) == 1
             && EVP_EncryptFinal_ex(c, r->ct + N, &lf) == 1 && EVP_CIPHER_CTX_get_params(c, get) == 1;
    /* and back: the tag given through set_params, then the final checks it */
    unsigned char back[N + 16];
    OSSL_PARAM set[2] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, r->tag, 16), OSSL_PARAM_construct_end()};
    ok = ok && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key2, iv1) == 1 && EVP_DecryptUpdate(c, back, &l, r->ct, N) == 1
         && EVP_CIPHER_CTX_set_params(c, set) == 1 && EVP_DecryptFinal_ex(c, back + N, &lf) == 1 && !memcmp(back, pt, N);
    EVP_CIPHER_CTX_free(c);
    return report(o, "tag_through_params", r->ct, N, r->tag, ok && verifies(key2, iv1, NULL, 0, r->ct, N, r->tag, pt));
}

static int reuse_after_finish(FILE *o, result *r) {
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int ok = EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key1, iv1) == 1 && encrypt_rest(c, r->ct, r->tag)
             && EVP_CipherInit_ex(c, NULL, NULL, NULL, iv2, -1) == 1 && encrypt_rest(c, r->ct, r->tag);
    EVP_CIPHER_CTX_free(c);
    return report(o, "reuse_after_finish", r->ct, N, r->tag, ok && verifies(key1, iv2, NULL, 0, r->ct, N, r->tag, pt));
}

static int cipher_update_final(FILE *o, result *r) {
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int l1, l2, lf;
    int ok = EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key2, iv2) == 1 && EVP_CipherUpdate(c, r->ct, &l1, pt, CUT2) == 1
             && EVP_CipherUpdate(c, r->ct + l1, &l2, pt + CUT2, N - CUT2) == 1 && EVP_CipherFinal_ex(c, r->ct + N, &lf) == 1
             && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, r->tag) == 1;
    EVP_CIPHER_CTX_free(c);
    return report(o, "cipher_update_final", r->ct, N, r->tag, ok && verifies(key2, iv2, NULL, 0, r->ct, N, r->tag, pt));
}

static int legacy_names(FILE *o, result *r) {
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int l, lf;
    int ok = EVP_EncryptInit(c, EVP_aes_256_gcm(), key1, iv2) == 1 && EVP_EncryptUpdate(c, r->ct, &l, pt, N) == 1
             && EVP_EncryptFinal(c, r->ct + N, &lf) == 1 && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, r->tag) == 1;
    EVP_CIPHER_CTX_free(c);
    return report(o, "legacy_names", r->ct, N, r->tag, ok && verifies(key1, iv2, NULL, 0, r->ct, N, r->tag, pt));
}

static int final_non_ex_after_ex_init(FILE *o, result *r) {
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int l, lf;
    int ok = EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key2, iv1) == 1 && EVP_EncryptUpdate(c, r->ct, &l, pt, N) == 1
             && EVP_EncryptFinal(c, r->ct + N, &lf) == 1 && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, r->tag) == 1;
    EVP_CIPHER_CTX_free(c);
    return report(o, "final_non_ex", r->ct, N, r->tag, ok && verifies(key2, iv1, NULL, 0, r->ct, N, r->tag, pt));
}

static int with_aad(FILE *o, result *r) {
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int l;
    int ok = EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key1, iv2) == 1
             && EVP_EncryptUpdate(c, NULL, &l, aad, (int)sizeof aad) == 1 && encrypt_rest(c, r->ct, r->tag);
    EVP_CIPHER_CTX_free(c);
    return report(o, "aad", r->ct, N, r->tag, ok && verifies(key1, iv2, aad, (int)sizeof aad, r->ct, N, r->tag, pt));
}

static int in_place(FILE *o, result *r) {
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int l1, l2, lf;
    memcpy(r->ct, pt, N);
    int ok = EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key2, iv2) == 1 && EVP_EncryptUpdate(c, r->ct, &l1, r->ct, CUT2) == 1
             && EVP_EncryptUpdate(c, r->ct + CUT2, &l2, r->ct + CUT2, N - CUT2) == 1 && EVP_EncryptFinal_ex(c, r->ct + N, &lf) == 1
             && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, r->tag) == 1;
    EVP_CIPHER_CTX_free(c);
    return report(o, "in_place", r->ct, N, r->tag, ok && verifies(key2, iv2, NULL, 0, r->ct, N, r->tag, pt));
}

static int reset_and_reuse(FILE *o, result *r) {
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int ok = EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key2, iv2) == 1 && encrypt_rest(c, r->ct, r->tag)
             && EVP_CIPHER_CTX_reset(c) == 1 && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key1, iv1) == 1
             && encrypt_rest(c, r->ct, r->tag);
    EVP_CIPHER_CTX_free(c);
    return report(o, "reset_and_reuse", r->ct, N, r->tag, ok && verifies(key1, iv1, NULL, 0, r->ct, N, r->tag, pt));
}

static int decrypt_in_parts(FILE *o, result *r) {
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    unsigned char back[N + 16], bad[16];
    int l1, l2, lf, ok = EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key1, iv1) == 1 && encrypt_rest(c, r->ct, r->tag);
    ok = ok && EVP_DecryptInit_ex(c, NULL, NULL, key1, iv1) == 1 && EVP_DecryptUpdate(c, back, &l1, r->ct, CUT1) == 1
         && EVP_DecryptUpdate(c, back + l1, &l2, r->ct + CUT1, N - CUT1) == 1
         && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, r->tag) == 1 && EVP_DecryptFinal_ex(c, back + N, &lf) == 1
         && !memcmp(back, pt, N);
    memcpy(bad, r->tag, 16);
    bad[5] ^= 0x20;
    ok = ok && EVP_DecryptInit_ex(c, NULL, NULL, NULL, iv1) == 1 && EVP_DecryptUpdate(c, back, &l1, r->ct, N) == 1
         && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, bad) == 1 && EVP_DecryptFinal_ex(c, back + N, &lf) == 0;
    EVP_CIPHER_CTX_free(c);
    return report(o, "decrypt_and_bad_tag", back, N, r->tag, ok);
}

/* Runs every scenario, with `between` called after each; returns the number of failures. */
__attribute__((visibility("default"))) int evp_scenarios_run(FILE *out, void (*between)(void)) {
    static result r;
    for (int i = 0; i < 32; i++) key1[i] = (unsigned char)(i * 7 + 1), key2[i] = (unsigned char)(255 - i * 3);
    for (int i = 0; i < 12; i++) iv1[i] = (unsigned char)(i + 100), iv2[i] = (unsigned char)(i * 11);
    for (int i = 0; i < N; i++) pt[i] = (unsigned char)(i * 31 + (i >> 8));
    for (size_t i = 0; i < sizeof aad; i++) aad[i] = (unsigned char)(i ^ 0x5a);
    int (*const scenarios[])(FILE *, result *) = {
        plain, reiv_cipherinit, reiv_ex2, rekey_ex2, copy_mid_message, tag_through_params, reuse_after_finish,
        cipher_update_final, legacy_names, final_non_ex_after_ex_init, with_aad, in_place, reset_and_reuse,
        decrypt_in_parts,
    };
    int failed = 0;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        memset(&r, 0, sizeof r);
        failed += scenarios[i](out, &r);
        if (between) between();
    }
    return failed;
}
