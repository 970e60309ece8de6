/*
 * shim_mprotect.c (validate=mprotect) in a process where its interposers come first, as under
 * LD_PRELOAD (they are linked into this executable): every write kind to an armed page succeeds
 * and is reported, kernel writes through the interposed calls succeed, and the SIGSEGV chain keeps
 * the host's behaviour: a genuine fault still kills the process (SIG_DFL) or reaches the host's
 * handler, whether the host installed it before or after ours.
 */
#define _GNU_SOURCE
#include "shim_protect.h"
#include "test_runner.h"
#include "tracker_check.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const struct tracker MPROTECT = {pl_mprotect_track, pl_mprotect_untrack, pl_mprotect_arm, pl_mprotect_clean};

static char *armed(size_t n) {
    return armed_by(&MPROTECT, n);
}

static void release(char *m, size_t n) {
    pl_mprotect_untrack(U(m), n * page);
    munmap(m, n * page);
}

TEST_CASE(probe_installs_the_handler_here) {
    CHECK_EQ(pl_mprotect_probe(), PL_PROTECT_OK);
}

TEST_CASE(cpu_writes_succeed_and_are_reported) {
    REQUIRE(pl_mprotect_probe() == 0);
    char *m = armed(4);
    REQUIRE(m);
    CHECK_EQ(pl_mprotect_clean(U(m), 4 * page), 1);
    m[page + 1] = 'w';
    CHECK_EQ(m[page + 1], 'w');
    CHECK_EQ(pl_mprotect_clean(U(m) + page, page), 0);
    CHECK_EQ(pl_mprotect_clean(U(m), page), 1);
    uint64_t r[8];
    CHECK_EQ(pl_mprotect_arm(U(m), 4 * page, r, 4), 1);
    CHECK_EQ(r[0], U(m) + page);
    CHECK_EQ(pl_mprotect_clean(U(m), 4 * page), 1);
    release(m, 4);
}

TEST_CASE(thread_and_signal_handler_writes_succeed_and_are_reported) {
    REQUIRE(pl_mprotect_probe() == 0);
    char *m = armed(3);
    REQUIRE(m);
    REQUIRE(write_from_another_thread(m + 9) == 0);
    write_from_a_signal_handler(m + page + 100);
    CHECK_EQ(m[9], 'x');
    CHECK(memcmp(m + page + 100, "handler", 7) == 0);
    CHECK_EQ(pl_mprotect_clean(U(m), page), 0);
    CHECK_EQ(pl_mprotect_clean(U(m) + page, page), 0);
    CHECK_EQ(pl_mprotect_clean(U(m) + 2 * page, page), 1);
    release(m, 3);
}

TEST_CASE(kernel_writes_through_interposed_calls_succeed) {
    REQUIRE(pl_mprotect_probe() == 0);
    char *m = armed(4);
    REQUIRE(m);
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    REQUIRE(write(fds[1], "pipe", 4) == 4);
    CHECK_EQ(read(fds[0], m + page - 2, 4), 4);   /* straddles pages 0 and 1 */
    CHECK(memcmp(m + page - 2, "pipe", 4) == 0);
    close(fds[0]);
    close(fds[1]);
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    REQUIRE(write(sv[1], "sock", 4) == 4);
    CHECK_EQ(recv(sv[0], m + 2 * page, 4, 0), 4);
    close(sv[0]);
    close(sv[1]);
    FILE *f = tmpfile();
    REQUIRE(f);
    fputs("stdio", f);
    rewind(f);
    CHECK_EQ(fread(m + 3 * page, 1, 5, f), 5);
    fclose(f);
    CHECK(memcmp(m + 2 * page, "sock", 4) == 0 && memcmp(m + 3 * page, "stdio", 5) == 0);
    for (int i = 0; i < 4; i++) CHECK_EQ(pl_mprotect_clean(U(m) + (size_t)i * page, page), 0);
    release(m, 4);
}

TEST_CASE(write_racing_the_arm_is_never_lost) {
    REQUIRE(pl_mprotect_probe() == 0);
    char *m = armed(32);
    REQUIRE(m);
    CHECK_EQ(writes_lost_racing_the_arm(&MPROTECT, m, 32), 0);
    release(m, 32);
}

/* ---- the SIGSEGV chain, each in a child process (a genuine fault ends it) ---- */

static void host_exit_42(int sig) {
    (void)sig;
    _exit(42);
}
static void host_exit_43(int sig, siginfo_t *si, void *uc) {
    (void)sig; (void)si; (void)uc;
    _exit(43);
}

/* In a child: arms a page, writes it (ours: must not reach the host), then faults for real. */
static void child_writes_then_crashes(void) {
    alarm(20);   /* a hang fails the test instead of stalling it */
    char *m = armed(1);
    if (!m) _exit(3);
    m[0] = 1;
    if (m[0] != 1 || pl_mprotect_clean(U(m), page)) _exit(4);
    volatile int *volatile nowhere = (volatile int *)(uintptr_t)16;
    *nowhere = 1;   /* a genuine fault */
    _exit(5);
}

static int run_child(void (*fn)(void)) {
    pid_t pid = fork();
    if (pid == 0) {
        fn();
        _exit(6);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

static void with_default(void) {
    child_writes_then_crashes();
}
TEST_CASE(a_genuine_fault_still_kills_with_sigsegv) {
    REQUIRE(pl_mprotect_probe() == 0);
    int st = run_child(with_default);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
}

static void with_handler_after(void) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = host_exit_43;
    sa.sa_flags = SA_SIGINFO;
    if (sigaction(SIGSEGV, &sa, &old) != 0) _exit(7);
    if (old.sa_handler != SIG_DFL) _exit(8);   /* the host sees its own world: no handler before */
    struct sigaction now;
    if (sigaction(SIGSEGV, NULL, &now) != 0 || now.sa_sigaction != host_exit_43) _exit(9);
    child_writes_then_crashes();
}
TEST_CASE(a_host_handler_set_after_ours_gets_only_its_own_faults) {
    REQUIRE(pl_mprotect_probe() == 0);
    int st = run_child(with_handler_after);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 43);
}

static void with_signal_after(void) {
    if (signal(SIGSEGV, host_exit_42) == SIG_ERR) _exit(7);
    child_writes_then_crashes();
}
TEST_CASE(a_host_handler_set_with_signal_after_ours_gets_only_its_own_faults) {
    REQUIRE(pl_mprotect_probe() == 0);
    int st = run_child(with_signal_after);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 42);
}

TEST_CASE(a_host_handler_set_before_ours_is_chained) {
    /* a fresh process: the host's handler first, then the probe installs ours on top */
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        execl("/proc/self/exe", "mprotect_test", "--handler-before", (char *)NULL);
        _exit(10);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 42);
}

TEST_CASE(fork_child_inherits_no_protection) {
    REQUIRE(pl_mprotect_probe() == 0);
    char *m = armed(2);
    REQUIRE(m);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        alarm(20);
        struct sigaction d;
        memset(&d, 0, sizeof d);
        d.sa_handler = SIG_DFL;
        sigaction(SIGSEGV, &d, NULL);   /* any fault now would kill the child: there must be none */
        m[0] = 'c';
        int fds[2];
        if (pipe(fds) != 0 || write(fds[1], "ab", 2) != 2 || syscall(SYS_read, fds[0], m + page, 2) != 2) _exit(3);
        _exit(m[0] == 'c' && m[page] == 'a' ? 0 : 2);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_EQ(pl_mprotect_clean(U(m), 2 * page), 1);   /* the parent's pages are still armed and clean */
    release(m, 2);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--handler-before") == 0) {
        signal(SIGSEGV, host_exit_42);   /* before our handler exists: the real one */
        if (pl_mprotect_probe() != 0) return 11;
        child_writes_then_crashes();
        return 12;
    }
    return tr_main(argc, argv);
}
