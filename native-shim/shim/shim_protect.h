/*
 * Write tracking of pre-encrypted source pages (validate=uffd): userfaultfd write-protection in
 * asynchronous mode (UFFD_FEATURE_WP_ASYNC, Linux >= 6.7) read and re-armed with the PAGEMAP_SCAN
 * ioctl on /proc/self/pagemap. A write to an armed page, from user space or from the kernel
 * (read(2), recv(2), io_uring, process_vm_writev), is resolved by the kernel itself: it clears the
 * page's uffd-wp bit and the write goes on; no signal, no thread of ours. A later scan sees the
 * page as PAGE_IS_WRITTEN. docs/architecture.md ("Validation") gives the guarantees and the kernel
 * sources they rest on.
 *
 * The Java agent calls these through FFM downcalls (dev.pipellm.agent.pipeline.PageTracker); they
 * are exported (libpipellm.map) and take and return only integers. Ranges are byte ranges, rounded
 * out to whole pages here. None allocates, locks or logs: pl_protect_clean is the commit's check.
 */
#ifndef PL_SHIM_PROTECT_H
#define PL_SHIM_PROTECT_H

#include <stdint.h>

/* pl_protect_probe results: 0, or why the mode is not available (negative). */
#define PL_PROTECT_OK 0
#define PL_PROTECT_NO_UFFD (-1)      /* userfaultfd(2) refused (seccomp, EPERM, ENOSYS) */
#define PL_PROTECT_NO_WP_ASYNC (-2)  /* UFFDIO_API lacks WP_ASYNC or WP_UNPOPULATED (kernel < 6.7) */
#define PL_PROTECT_NO_SCAN (-3)      /* /proc/self/pagemap or its PAGEMAP_SCAN ioctl missing */
#define PL_PROTECT_INEXACT (-4)      /* the self-test saw a write that was not reported */
#define PL_PROTECT_DISABLED (-5)     /* pl_protect_disable was called (tests inject it) */
#define PL_PROTECT_NOT_FIRST (-6)    /* mprotect: libpipellm.so's read/sigaction are not the ones callers get (-agentpath) */

/* Opens the userfaultfd (UFFD_USER_MODE_ONLY: no privilege needed; async WP never calls
 * handle_userfault, so kernel-mode writes are tracked all the same) and /proc/self/pagemap once,
 * then proves on a scratch mapping that user, other-thread and kernel writes are all reported.
 * Idempotent and thread-safe; returns the first result every time. */
__attribute__((visibility("default"))) int pl_protect_probe(void);

/* Test only (inject_fault=no_uffd): the probe reports PL_PROTECT_DISABLED from now on. */
__attribute__((visibility("default"))) void pl_protect_disable(void);

/* Registers [addr, addr+len) for write tracking (UFFDIO_REGISTER_MODE_WP). Once per allocation;
 * memory uffd cannot track (file-backed, device or VM_PFNMAP mappings such as a real GPU's pinned
 * memory, hugetlbfs without WP_HUGETLBFS_SHMEM) fails: 0 or -errno. */
__attribute__((visibility("default"))) int pl_protect_track(uint64_t addr, uint64_t len);

/* Undoes pl_protect_track before the memory is freed (UFFDIO_UNREGISTER also clears the pages'
 * uffd-wp bits, so the host's later writes there cost no fault): 0 or -errno. */
__attribute__((visibility("default"))) int pl_protect_untrack(uint64_t addr, uint64_t len);

/* Write-protects [addr, addr+len) (PAGEMAP_SCAN with PM_SCAN_WP_MATCHING: atomically, page by page,
 * reports whether each page was written since it was last armed, and arms it again). Writes the
 * written parts as (start, end) pairs into regions[0 .. 2*cap) (merged into the last pair when
 * more than cap) and returns how many pairs, or -errno (-EFAULT: part of the range is unmapped;
 * -EPERM: part is not registered). A failure leaves some pages armed: harmless (false positives). */
__attribute__((visibility("default"))) long pl_protect_arm(uint64_t addr, uint64_t len, uint64_t *regions, int cap);

/* The commit's check: 1 when every page of [addr, addr+len) is registered, mapped and unwritten
 * since its last arm; 0 otherwise (written, unmapped, unregistered, or the scan failed). */
__attribute__((visibility("default"))) int pl_protect_clean(uint64_t addr, uint64_t len);

/* validate=mprotect (shim_mprotect.c): the same calls, by page protection and a chained SIGSEGV
 * handler; probe installs the handler (LD_PRELOAD role only) and proves it on a scratch mapping. */
__attribute__((visibility("default"))) int pl_mprotect_probe(void);
__attribute__((visibility("default"))) int pl_mprotect_track(uint64_t addr, uint64_t len);
__attribute__((visibility("default"))) int pl_mprotect_untrack(uint64_t addr, uint64_t len);
__attribute__((visibility("default"))) long pl_mprotect_arm(uint64_t addr, uint64_t len, uint64_t *regions, int cap);
__attribute__((visibility("default"))) int pl_mprotect_clean(uint64_t addr, uint64_t len);

/* Whether [start, end) is private anonymous memory only (/proc/self/maps): the only memory either
 * mode tracks exactly. */
int pl_protect_private_anonymous(uint64_t start, uint64_t end);

#endif
