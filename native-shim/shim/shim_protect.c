/*
 * Write tracking of pre-encrypted source pages with userfaultfd async write-protection and
 * PAGEMAP_SCAN (shim_protect.h). What the kernel does, and where (torvalds/linux, 6.7 and later):
 *  - fs/userfaultfd.c, userfaultfd_syscall_allowed(): with vm.unprivileged_userfaultfd=0 a process
 *    without CAP_SYS_PTRACE may still create a userfaultfd if it passes UFFD_USER_MODE_ONLY. That
 *    flag only changes handle_userfault() (a kernel-mode fault gets SIGBUS instead of a message);
 *  - mm/memory.c, do_wp_page() (and the pte-marker and huge-pmd paths): on a write to a uffd-wp page
 *    of a VMA whose context has UFFD_FEATURE_WP_ASYNC, the kernel clears the uffd-wp bit and lets the
 *    write go on, never calling handle_userfault(). So user and kernel writes alike (copy_to_user in
 *    read(2)/recv(2), io_uring, process_vm_writev) succeed and are recorded, whatever the flags;
 *  - fs/userfaultfd.c, userfaultfd_api(): WP_ASYNC needs WP_UNPOPULATED (page never faulted in get
 *    a pte marker, so they are protected too); shmem and hugetlbfs need WP_HUGETLBFS_SHMEM;
 *    vma_can_userfault() (include/linux/userfaultfd_k.h) refuses WP on other file-backed memory
 *    and on VM_PFNMAP/VM_IO mappings (a real GPU driver's cudaHostAlloc memory): tracking fails
 *    there and the agent keeps the exact compare for those slots;
 *  - fs/proc/task_mmu.c, do_pagemap_scan() (Documentation/admin-guide/mm/pagemap.rst): PAGE_IS_WRITTEN
 *    is "present or swapped and not uffd-wp", PM_SCAN_WP_MATCHING re-protects the pages it matched in
 *    the same page-table walk (under the page-table lock, so a concurrent write is either reported or
 *    lands after the new protection), PM_SCAN_CHECK_WPASYNC fails with -EPERM on a VMA that is not
 *    registered in async mode; holes between VMAs are skipped (not reported), which is why the
 *    checks here require the reported regions to cover the whole range;
 *  - kernel/fork.c -> dup_userfaultfd() and mm/memory.c copy_present_pte(): a child forked without
 *    UFFD_FEATURE_EVENT_FORK gets its VMAs unregistered and its ptes' uffd-wp bits cleared, so it
 *    inherits no protection; the parent's pages become COW-shared and its next write is reported.
 * The Debian 12 headers predate 6.7: what they lack is defined below with the version it came in.
 */
#define _GNU_SOURCE
#include "shim_protect.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1 /* Linux 5.11 */
#endif
#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1 << 12) /* Linux 5.19 */
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13) /* Linux 6.4 */
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15) /* Linux 6.7 */
#endif
#ifndef PAGEMAP_SCAN /* Linux 6.7, include/uapi/linux/fs.h */
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
struct page_region {
    __u64 start;
    __u64 end;
    __u64 categories;
};
struct pm_scan_arg {
    __u64 size;
    __u64 flags;
    __u64 start;
    __u64 end;
    __u64 walk_end;
    __u64 vec;
    __u64 vec_len;
    __u64 max_pages;
    __u64 category_inverted;
    __u64 category_mask;
    __u64 category_anyof_mask;
    __u64 return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PM_SCAN_WP_MATCHING (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)
#endif

static int uffd = -1;
static int pagemap = -1;
static uint64_t page_mask;
static int probe_result;
static atomic_int disabled;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

static inline uint64_t floor_page(uint64_t a) { return a & ~page_mask; }
static inline uint64_t ceil_page(uint64_t a) { return (a + page_mask) & ~page_mask; }

static uint64_t parse_hex(const char **p) {
    uint64_t v = 0;
    for (;; (*p)++) {
        char c = **p;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return v;
        v = v * 16 + (uint64_t)d;
    }
}

/* One line of /proc/self/maps ("start-end perms offset dev inode [path]"): whether it lies outside
 * [start, end) or is private anonymous memory; *covered advances over the part inside. */
static int line_ok(const char *l, uint64_t start, uint64_t end, uint64_t *covered) {
    uint64_t lo = parse_hex(&l);
    if (*l++ != '-') return 0;
    uint64_t hi = parse_hex(&l);
    if (hi <= start || lo >= end) return 1;
    if (*l++ != ' ' || l[3] != 'p') return 0;   /* rw-p: private (a shared mapping is shmem) */
    l += 5;
    while (*l && *l != ' ') l++;                /* offset */
    if (*l++ != ' ') return 0;
    while (*l && *l != ' ') l++;                /* device */
    if (*l++ != ' ' || l[0] != '0' || (l[1] != ' ' && l[1] != '\0')) return 0;   /* inode 0: anonymous */
    if (lo > *covered) return 0;                /* a hole */
    if (hi > *covered) *covered = hi;
    return 1;
}

/*
 * Whether [start, end) is private anonymous memory only. uffd-wp watches this mapping's page table:
 * shared memory can be written through another mapping or its file (pwrite), a private file mapping
 * changes with its file until copied on write, and neither is seen here. So only private anonymous
 * memory (malloc, mmap(MAP_PRIVATE|MAP_ANONYMOUS), simgpu's cudaHostAlloc) is tracked.
 */
int pl_protect_private_anonymous(uint64_t start, uint64_t end) {
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[8192];
    size_t have = 0;
    uint64_t covered = start;
    int ok = 1, eof = 0;
    while (ok && covered < end && !eof) {
        ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
        if (n <= 0) eof = 1; else have += (size_t)n;
        buf[have] = '\0';
        char *line = buf, *nl;
        while (ok && (nl = strchr(line, '\n')) != NULL) {
            *nl = '\0';
            ok = line_ok(line, start, end, &covered);
            line = nl + 1;
        }
        have -= (size_t)(line - buf);
        memmove(buf, line, have);
        if (have == sizeof buf - 1) ok = 0;   /* a line longer than the buffer: a path we refuse anyway */
    }
    close(fd);
    return ok && covered >= end;
}

int pl_protect_track(uint64_t addr, uint64_t len) {
    if (uffd < 0) return -EBADF;
    if (len == 0) return -EINVAL;
    struct uffdio_register r;
    memset(&r, 0, sizeof r);
    r.range.start = floor_page(addr);
    r.range.len = ceil_page(addr + len) - r.range.start;
    if (!pl_protect_private_anonymous(r.range.start, r.range.start + r.range.len)) return -EINVAL;
    r.mode = UFFDIO_REGISTER_MODE_WP;
    /* registering a range already registered with this context again is allowed (no-op) */
    return ioctl(uffd, UFFDIO_REGISTER, &r) == 0 ? 0 : -errno;
}

int pl_protect_untrack(uint64_t addr, uint64_t len) {
    if (uffd < 0) return -EBADF;
    if (len == 0) return -EINVAL;
    struct uffdio_range r;
    r.start = floor_page(addr);
    r.len = ceil_page(addr + len) - r.start;
    return ioctl(uffd, UFFDIO_UNREGISTER, &r) == 0 ? 0 : -errno;
}

/* One PAGEMAP_SCAN over [start, end) that reports every registered page, split by PAGE_IS_WRITTEN. */
static long scan(uint64_t start, uint64_t end, uint64_t flags, struct page_region *vec, int n, uint64_t *walk_end) {
    struct pm_scan_arg a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.flags = flags | PM_SCAN_CHECK_WPASYNC;
    a.start = start;
    a.end = end;
    a.vec = (uint64_t)(uintptr_t)vec;
    a.vec_len = (uint64_t)n;
    a.category_mask = PAGE_IS_WPALLOWED;
    a.return_mask = PAGE_IS_WRITTEN;
    long got = ioctl(pagemap, PAGEMAP_SCAN, &a);
    if (got < 0) return -errno;
    *walk_end = a.walk_end;
    return got;
}

long pl_protect_arm(uint64_t addr, uint64_t len, uint64_t *regions, int cap) {
    if (pagemap < 0) return -EBADF;
    if (len == 0 || cap < 1) return -EINVAL;
    uint64_t end = ceil_page(addr + len);
    uint64_t at = floor_page(addr);
    uint64_t covered = at;   /* the reported regions must tile [start, end): a gap is a hole */
    long out = 0;
    struct page_region vec[32];
    while (at < end) {
        uint64_t walk_end = at;
        long got = scan(at, end, PM_SCAN_WP_MATCHING, vec, 32, &walk_end);
        if (got < 0) return got;
        for (long i = 0; i < got; i++) {
            if (vec[i].start != covered) return -EFAULT;
            covered = vec[i].end;
            if (!(vec[i].categories & PAGE_IS_WRITTEN)) continue;
            if (out > 0 && regions[2 * out - 1] == vec[i].start) {
                regions[2 * out - 1] = vec[i].end;   /* adjacent: one region */
            } else if (out < cap) {
                regions[2 * out] = vec[i].start;
                regions[2 * out + 1] = vec[i].end;
                out++;
            } else {
                regions[2 * out - 1] = vec[i].end;   /* full: widen the last one (false positives only) */
            }
        }
        if (walk_end <= at) return -EFAULT;   /* no progress: nothing mapped there */
        at = walk_end;
    }
    return covered >= end ? out : -EFAULT;
}

int pl_protect_clean(uint64_t addr, uint64_t len) {
    if (pagemap < 0 || len == 0) return 0;
    uint64_t start = floor_page(addr);
    uint64_t end = ceil_page(addr + len);
    struct page_region vec[2];
    uint64_t walk_end = start;
    /* a clean, registered, mapped range is exactly one region without PAGE_IS_WRITTEN */
    long got = scan(start, end, 0, vec, 2, &walk_end);
    return got == 1 && vec[0].start == start && vec[0].end == end && !(vec[0].categories & PAGE_IS_WRITTEN);
}

/* ---- the probe: open once, then prove the guarantees on a scratch mapping ---- */

static int open_uffd(void) {
    uint64_t want = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED;
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (fd < 0) return PL_PROTECT_NO_UFFD;
    struct uffdio_api api;
    memset(&api, 0, sizeof api);
    api.api = UFFD_API;
    if (ioctl(fd, UFFDIO_API, &api) != 0 || (api.features & want) != want) {
        close(fd);
        return PL_PROTECT_NO_WP_ASYNC;
    }
    /* UFFDIO_API may be called once per context: ask for what is needed (plus shmem/hugetlbfs if offered) */
    close(fd);
    fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (fd < 0) return PL_PROTECT_NO_UFFD;
    uint64_t offered = api.features;
    memset(&api, 0, sizeof api);
    api.api = UFFD_API;
    api.features = want | (offered & UFFD_FEATURE_WP_HUGETLBFS_SHMEM);
    if (ioctl(fd, UFFDIO_API, &api) != 0) {
        close(fd);
        return PL_PROTECT_NO_WP_ASYNC;
    }
    uffd = fd;
    return PL_PROTECT_OK;
}

static void *write_second_page(void *p) {
    ((volatile char *)p)[(page_mask + 1) + 7] = 1;
    return NULL;
}

/* A scratch mapping of 4 pages: armed, then written by this thread (page 0), another thread
 * (page 1) and the kernel (read(2) from a pipe into page 2); page 3 stays untouched. */
static int self_test(void) {
    uint64_t page = page_mask + 1;
    char *m = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return PL_PROTECT_INEXACT;
    int ok = 0;
    uint64_t r[8];
    int fds[2] = {-1, -1};
    uint64_t a = (uint64_t)(uintptr_t)m;
    m[0] = 1;   /* one populated page, three unpopulated ones */
    if (pl_protect_track(a, 4 * page) != 0 || pl_protect_arm(a, 4 * page, r, 4) < 0) goto out;
    if (pl_protect_clean(a, 4 * page) != 1) goto out;
    m[5] = 2;
    pthread_t t;
    if (pthread_create(&t, NULL, write_second_page, m) != 0) goto out;
    pthread_join(t, NULL);
    if (pipe2(fds, O_CLOEXEC) != 0 || write(fds[1], "kernel", 6) != 6 || read(fds[0], m + 2 * page + 3, 6) != 6) goto out;
    if (pl_protect_clean(a, page) || pl_protect_clean(a + page, page) || pl_protect_clean(a + 2 * page, page)) goto out;
    if (pl_protect_clean(a + 3 * page, page) != 1) goto out;
    /* arming again reports exactly pages 0..2 and leaves everything clean */
    if (pl_protect_arm(a, 4 * page, r, 4) != 1 || r[0] != a || r[1] != a + 3 * page) goto out;
    ok = pl_protect_clean(a, 4 * page) == 1;
out:
    if (fds[0] >= 0) close(fds[0]);
    if (fds[1] >= 0) close(fds[1]);
    munmap(m, 4 * page);
    return ok ? PL_PROTECT_OK : PL_PROTECT_INEXACT;
}

static void probe(void) {
    page_mask = (uint64_t)sysconf(_SC_PAGESIZE) - 1;
    int r = open_uffd();
    if (r == PL_PROTECT_OK) {
        pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
        if (pagemap < 0) r = PL_PROTECT_NO_SCAN;
    }
    if (r == PL_PROTECT_OK) {
        struct pm_scan_arg a;
        memset(&a, 0, sizeof a);
        a.size = sizeof a;   /* an empty scan: -EINVAL or -ENOTTY tells an older kernel */
        if (ioctl(pagemap, PAGEMAP_SCAN, &a) < 0) r = PL_PROTECT_NO_SCAN;
    }
    if (r == PL_PROTECT_OK) r = self_test();
    if (r != PL_PROTECT_OK) {
        if (uffd >= 0) close(uffd);
        if (pagemap >= 0) close(pagemap);
        uffd = pagemap = -1;
    }
    probe_result = r;
}

int pl_protect_probe(void) {
    pthread_once(&probe_once, probe);
    return atomic_load(&disabled) ? PL_PROTECT_DISABLED : probe_result;
}

void pl_protect_disable(void) {
    atomic_store(&disabled, 1);
}
