/*
 * A host that installs its own SIGSEGV handler after the JVM started (as Python's faulthandler does
 * when pytest enables it). HotSpot takes SIGSEGV for its own safepoint polls and implicit null
 * checks; with libjsig preloaded first, those reach the JVM and the host's handler sees only faults
 * of its own. Run under LD_PRELOAD=libjsig.so:libpipellm.so, sync mode, with frequent safepoints.
 * Exits 0 after ~2 s of copies through the agent, 99 if the host handler caught a JVM fault.
 */
#include <cuda_runtime_api.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void host_handler(int sig, siginfo_t *info, void *ctx) {
    (void)sig; (void)info; (void)ctx;
    static const char msg[] = "prog_sigsegv: the host's SIGSEGV handler caught a fault of the JVM\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(99);
}

int main(void) {
    size_t n = 256 << 10;
    char *src = malloc(n), *dst = malloc(n);
    void *d = NULL;
    memset(src, 7, n);
    if (cudaMalloc(&d, n) != cudaSuccess) return 2;   /* starts the JVM */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = host_handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);                    /* installed after the JVM */
    time_t end = time(NULL) + 2;
    long rounds = 0;
    while (time(NULL) < end) {
        if (cudaMemcpy(d, src, n, cudaMemcpyHostToDevice) || cudaMemcpy(dst, d, n, cudaMemcpyDeviceToHost)) return 3;
        if (memcmp(src, dst, n)) return 4;
        rounds++;
    }
    printf("rounds %ld: host handler untouched\n", rounds);
    return 0;
}
