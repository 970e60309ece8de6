/*
 * shim_protect.c (validate=uffd) against the real kernel: every kind of write to an armed page is
 * reported and succeeds, pages nobody wrote stay clean, and what uffd cannot track is refused
 * rather than reported clean. Runs on this machine's kernel (>= 6.7 required: CI's kind).
 */
#define _GNU_SOURCE
#include "shim_protect.h"
#include "test_runner.h"
#include "tracker_check.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static const struct tracker UFFD = {pl_protect_track, pl_protect_untrack, pl_protect_arm, pl_protect_clean};

/* tracked and armed, n pages */
static char *armed(size_t n) {
    return armed_by(&UFFD, n);
}

TEST_CASE(probe_finds_exact_uffd_here) {
    CHECK_EQ(pl_protect_probe(), PL_PROTECT_OK);
}

TEST_CASE(unwritten_pages_stay_clean) {
    REQUIRE(pl_protect_probe() == 0);
    char *m = armed(8);
    REQUIRE(m);
    volatile char sink = m[3 * page + 1];   /* reads do not count */
    (void)sink;
    CHECK_EQ(pl_protect_clean(U(m), 8 * page), 1);
    CHECK_EQ(pl_protect_clean(U(m) + 10, 100), 1);   /* a sub-page slot */
    munmap(m, 8 * page);
}

TEST_CASE(write_from_this_thread_is_reported_and_succeeds) {
    REQUIRE(pl_protect_probe() == 0);
    char *m = armed(4);
    REQUIRE(m);
    m[page + 17] = 'w';
    CHECK_EQ(m[page + 17], 'w');
    CHECK_EQ(pl_protect_clean(U(m), page), 1);
    CHECK_EQ(pl_protect_clean(U(m) + page, page), 0);
    CHECK_EQ(pl_protect_clean(U(m), 4 * page), 0);
    uint64_t r[8];
    CHECK_EQ(pl_protect_arm(U(m), 4 * page, r, 4), 1);
    CHECK_EQ(r[0], U(m) + page);
    CHECK_EQ(r[1], U(m) + 2 * page);
    CHECK_EQ(pl_protect_clean(U(m), 4 * page), 1);   /* armed again */
    munmap(m, 4 * page);
}

TEST_CASE(write_from_another_thread_is_reported) {
    REQUIRE(pl_protect_probe() == 0);
    char *m = armed(2);
    REQUIRE(m);
    REQUIRE(write_from_another_thread(m + page + 5) == 0);
    CHECK_EQ(pl_protect_clean(U(m) + page, 1), 0);
    CHECK_EQ(pl_protect_clean(U(m), page), 1);
    munmap(m, 2 * page);
}

TEST_CASE(kernel_writes_succeed_and_are_reported) {
    REQUIRE(pl_protect_probe() == 0);
    char *m = armed(4);
    REQUIRE(m);
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    REQUIRE(write(fds[1], "from-a-pipe", 11) == 11);
    CHECK_EQ(read(fds[0], m + page + page - 3, 11), 11);   /* straddles pages 1 and 2 */
    CHECK(memcmp(m + 2 * page - 3, "from-a-pipe", 11) == 0);
    close(fds[0]);
    close(fds[1]);
    CHECK_EQ(pl_protect_clean(U(m) + page, page), 0);
    CHECK_EQ(pl_protect_clean(U(m) + 2 * page, page), 0);
    char src[5] = "pvwv";
    struct iovec l = {src, 4}, r = {m + 3 * page, 4};
    CHECK_EQ(process_vm_writev(getpid(), &l, 1, &r, 1, 0), 4);
    CHECK_EQ(pl_protect_clean(U(m) + 3 * page, page), 0);
    CHECK_EQ(pl_protect_clean(U(m), page), 1);
    munmap(m, 4 * page);
}

TEST_CASE(memcpy_in_a_signal_handler_is_reported) {
    REQUIRE(pl_protect_probe() == 0);
    char *m = armed(2);
    REQUIRE(m);
    write_from_a_signal_handler(m + 100);
    CHECK(memcmp(m + 100, "handler", 7) == 0);
    CHECK_EQ(pl_protect_clean(U(m), page), 0);
    CHECK_EQ(pl_protect_clean(U(m) + page, page), 1);
    munmap(m, 2 * page);
}

/* A write racing the arm is either reported by that arm or seen by the next check: never lost. */
TEST_CASE(write_racing_the_arm_is_never_lost) {
    REQUIRE(pl_protect_probe() == 0);
    char *m = armed(64);
    REQUIRE(m);
    CHECK_EQ(writes_lost_racing_the_arm(&UFFD, m, 64), 0);
    munmap(m, 64 * page);
}

TEST_CASE(many_written_regions_merge_conservatively) {
    REQUIRE(pl_protect_probe() == 0);
    char *m = armed(40);
    REQUIRE(m);
    for (int i = 0; i < 40; i += 2) m[(size_t)i * page] = 1;   /* 20 separate written pages */
    uint64_t r[6];
    long got = pl_protect_arm(U(m), 40 * page, r, 3);
    CHECK_EQ(got, 3);
    CHECK_EQ(r[0], U(m));
    CHECK_EQ(r[5], U(m) + 39 * page);   /* the last region was widened to the last written page */
    CHECK_EQ(pl_protect_clean(U(m), 40 * page), 1);
    munmap(m, 40 * page);
}

TEST_CASE(unpopulated_pages_are_protected_too) {
    REQUIRE(pl_protect_probe() == 0);
    page = (size_t)sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(m != MAP_FAILED);
    uint64_t r[8];
    REQUIRE(pl_protect_track(U(m), 4 * page) == 0);
    REQUIRE(pl_protect_arm(U(m), 4 * page, r, 4) >= 0);
    CHECK_EQ(pl_protect_clean(U(m), 4 * page), 1);
    m[2 * page] = 1;   /* first touch after the arm */
    CHECK_EQ(pl_protect_clean(U(m) + 2 * page, page), 0);
    munmap(m, 4 * page);
}

TEST_CASE(transparent_huge_pages_are_exact) {
    REQUIRE(pl_protect_probe() == 0);
    page = (size_t)sysconf(_SC_PAGESIZE);
    size_t huge = 2u << 20, len = 2 * huge;
    char *raw = mmap(NULL, len + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(raw != MAP_FAILED);
    char *m = (char *)(((uintptr_t)raw + huge - 1) & ~(uintptr_t)(huge - 1));
    madvise(m, len, MADV_HUGEPAGE);
    memset(m, 7, len);
    uint64_t r[8];
    REQUIRE(pl_protect_track(U(m), len) == 0);
    REQUIRE(pl_protect_arm(U(m), len, r, 4) >= 0);
    CHECK_EQ(pl_protect_clean(U(m), len), 1);
    m[huge + 12345] = 8;
    CHECK_EQ(pl_protect_clean(U(m) + huge + 12345, 1), 0);
    CHECK_EQ(pl_protect_clean(U(m), huge), 1);   /* the other huge page */
    CHECK_EQ(pl_protect_clean(U(m), len), 0);
    /* a slot inside one huge page, armed alone, then a write elsewhere in the same huge page */
    REQUIRE(pl_protect_arm(U(m), len, r, 4) >= 0);
    REQUIRE(pl_protect_arm(U(m) + 100 * page, 3 * page, r, 4) >= 0);
    m[200 * page] = 9;
    CHECK_EQ(pl_protect_clean(U(m) + 200 * page, page), 0);
    munmap(raw, len + huge);
}

/* uffd-wp sees writes through this mapping only: a write through the file (pwrite) or another
 * mapping would be missed, so shared memory is refused (the agent compares those slots). */
TEST_CASE(shared_memory_is_refused) {
    REQUIRE(pl_protect_probe() == 0);
    page = (size_t)sysconf(_SC_PAGESIZE);
    int fd = memfd_create("pipellm-protect-test", MFD_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(ftruncate(fd, 4 * (off_t)page) == 0);
    char *m = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    REQUIRE(m != MAP_FAILED);
    memset(m, 1, 4 * page);
    CHECK(pl_protect_track(U(m), 4 * page) < 0);
    CHECK_EQ(pl_protect_clean(U(m), 4 * page), 0);
    munmap(m, 4 * page);
    char *anon = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(anon != MAP_FAILED);
    CHECK(pl_protect_track(U(anon), 2 * page) < 0);   /* shared anonymous memory is shmem too */
    munmap(anon, 2 * page);
    close(fd);
}

TEST_CASE(a_range_with_a_hole_or_two_kinds_of_memory_is_refused) {
    REQUIRE(pl_protect_probe() == 0);
    char *m = map_pages(6);
    REQUIRE(m);
    munmap(m + 2 * page, page);
    CHECK(pl_protect_track(U(m), 6 * page) < 0);
    CHECK_EQ(pl_protect_track(U(m), 2 * page), 0);
    CHECK_EQ(pl_protect_track(U(m) + 3 * page, 3 * page), 0);
    munmap(m, 6 * page);
}

TEST_CASE(file_backed_memory_is_refused) {
    REQUIRE(pl_protect_probe() == 0);
    page = (size_t)sysconf(_SC_PAGESIZE);
    char path[] = "/tmp/pipellm-protect-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    unlink(path);
    REQUIRE(ftruncate(fd, 2 * (off_t)page) == 0);
    char *m = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    REQUIRE(m != MAP_FAILED);
    CHECK(pl_protect_track(U(m), 2 * page) < 0);
    CHECK_EQ(pl_protect_clean(U(m), 2 * page), 0);   /* unregistered: never "clean" */
    munmap(m, 2 * page);
    close(fd);
}

TEST_CASE(unmapped_or_replaced_ranges_are_never_clean) {
    REQUIRE(pl_protect_probe() == 0);
    char *m = armed(6);
    REQUIRE(m);
    munmap(m + 2 * page, 2 * page);   /* a hole in the middle */
    CHECK_EQ(pl_protect_clean(U(m), 6 * page), 0);
    uint64_t r[8];
    CHECK(pl_protect_arm(U(m), 6 * page, r, 4) < 0);
    /* new memory at the same place is not registered */
    char *again = mmap(m + 2 * page, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    REQUIRE(again == m + 2 * page);
    CHECK_EQ(pl_protect_clean(U(m), 6 * page), 0);
    CHECK_EQ(pl_protect_clean(U(m), 2 * page), 1);
    munmap(m, 6 * page);
}

TEST_CASE(fork_child_inherits_no_protection) {
    REQUIRE(pl_protect_probe() == 0);
    char *m = armed(4);
    REQUIRE(m);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        /* the child's writes just work (no fault handler, no SIGBUS), kernel writes too */
        m[0] = 'c';
        int fds[2];
        if (pipe(fds) != 0 || write(fds[1], "ab", 2) != 2 || read(fds[0], m + page, 2) != 2) _exit(3);
        _exit(m[0] == 'c' && m[page] == 'a' ? 0 : 2);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ(m[0], 0x5a);                          /* the child's writes were its own */
    CHECK_EQ(pl_protect_clean(U(m), 4 * page), 1); /* and the parent's pages are still clean */
    m[3 * page] = 'p';                             /* the parent's own write after fork (COW) */
    CHECK_EQ(pl_protect_clean(U(m) + 3 * page, page), 0);
    munmap(m, 4 * page);
}

TEST_CASE(untracked_memory_is_never_clean_and_writes_freely) {
    REQUIRE(pl_protect_probe() == 0);
    char *m = armed(4);
    REQUIRE(m);
    CHECK_EQ(pl_protect_clean(U(m), 4 * page), 1);
    CHECK_EQ(pl_protect_untrack(U(m), 4 * page), 0);
    CHECK_EQ(pl_protect_clean(U(m), 4 * page), 0);
    m[page] = 3;
    CHECK_EQ(m[page], 3);
    munmap(m, 4 * page);
}

TEST_CASE(disable_makes_the_probe_fail) {
    REQUIRE(pl_protect_probe() == 0);
    pid_t pid = fork();   /* in a child: the other tests keep the real probe */
    REQUIRE(pid >= 0);
    if (pid == 0) {
        pl_protect_disable();
        _exit(pl_protect_probe() == PL_PROTECT_DISABLED ? 0 : 1);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_MAIN()
