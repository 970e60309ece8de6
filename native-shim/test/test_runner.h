/*
 * A tiny test runner: TEST_CASE(name) registers a test; CHECK* report file:line and mark the test
 * failed; main() runs the tests whose names contain argv[1] (all by default) and ends with the
 * line "N passed, N failed" that CI reads.
 */
#ifndef TEST_RUNNER_H
#define TEST_RUNNER_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_fn)(void);
typedef struct { const char *name; test_fn fn; } test_entry;

static test_entry tr_tests[256];
static int tr_count;
static int tr_failed_current;

#define TEST_CASE(name)                                                             \
    static void name(void);                                                         \
    __attribute__((constructor)) static void tr_register_##name(void) {             \
        tr_tests[tr_count++] = (test_entry){#name, name};                           \
    }                                                                               \
    static void name(void)

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            tr_failed_current = 1;                                                  \
        }                                                                           \
    } while (0)

#define CHECK_EQ(a, b)                                                              \
    do {                                                                            \
        long long tr_a = (long long)(a), tr_b = (long long)(b);                     \
        if (tr_a != tr_b) {                                                         \
            fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, \
                    #a, tr_a, #b, tr_b);                                            \
            tr_failed_current = 1;                                                  \
        }                                                                           \
    } while (0)

/* Fatal variant: stops the current test (returns from it). */
#define REQUIRE(cond)                                                               \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "  %s:%d: REQUIRE(%s) failed\n", __FILE__, __LINE__, #cond); \
            tr_failed_current = 1;                                                  \
            return;                                                                 \
        }                                                                           \
    } while (0)

static int tr_main(int argc, char **argv) {
    const char *filter = argc > 1 ? argv[1] : "";
    int passed = 0, failed = 0;
    for (int i = 0; i < tr_count; i++) {
        if (!strstr(tr_tests[i].name, filter)) continue;
        tr_failed_current = 0;
        tr_tests[i].fn();
        printf("%s %s\n", tr_failed_current ? "FAIL" : "ok  ", tr_tests[i].name);
        fflush(stdout);
        if (tr_failed_current) failed++; else passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#define TEST_MAIN() int main(int argc, char **argv) { return tr_main(argc, argv); }

#endif
