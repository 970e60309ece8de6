/* CC channel behaviour that needs its own configuration: key and IV rotation mid-stream (run with
 * small SIMGPU_KEY_ROTATION_BYTES / SIMGPU_IV_ROTATION_MESSAGES), and the SIMGPU_STATS file. */
#include <cuda_runtime_api.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "simgpu.h"
#include "test_runner.h"

static void fill(char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) p[i] = (char)(i * 131 + seed * 7 + (i >> 9));
}

static int exchange(size_t n, unsigned seed) {
    char *src = malloc(n), *dst = calloc(1, n);
    void *d = NULL;
    fill(src, n, seed);
    int ok = cudaMalloc(&d, n) == cudaSuccess && cudaMemcpy(d, src, n, cudaMemcpyHostToDevice) == cudaSuccess &&
             cudaMemcpy(dst, d, n, cudaMemcpyDeviceToHost) == cudaSuccess && memcmp(src, dst, n) == 0;
    cudaFree(d);
    free(src);
    free(dst);
    return ok;
}

TEST_CASE(keys_and_ivs_rotate_mid_stream_without_losing_a_byte) {
    REQUIRE(simgpuCcEnabled());
    simgpuStats a, b;
    simgpuGetStats(&a);
    for (unsigned i = 0; i < 6; i++) CHECK(exchange((3u << 20) + i * 4099, i));
    simgpuGetStats(&b);
    const char *expect = getenv("EXPECT_ROTATION");   /* "key" or "iv": which one this run forces */
    REQUIRE(expect != NULL);
    if (!strcmp(expect, "key")) CHECK(b.key_rotations - a.key_rotations >= 4);
    else CHECK(b.iv_rotations - a.iv_rotations >= 4);
    CHECK_EQ(b.tag_failures, 0);
    CHECK_EQ(cudaGetLastError(), cudaSuccess);
}

static int child_main(void) {
    return exchange(5 * 65536 + 3, 1) ? 0 : 3;
}

TEST_CASE(stats_file_is_written_at_exit) {
    char path[] = "/tmp/simgpu-stats-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("SIMGPU_STATS", path, 1);
        setenv("SIMGPU_CC", "on", 1);
        setenv("SIMGPU_CC_CHUNK_BYTES", "65536", 1);
        execl("/proc/self/exe", "simgpu_cc_test", "--child", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    FILE *f = fopen(path, "r");
    REQUIRE(f != NULL);
    char json[4096] = {0};
    size_t n = fread(json, 1, sizeof json - 1, f);
    fclose(f);
    unlink(path);
    CHECK(n > 0);
    CHECK(strstr(json, "\"h2d_messages\": 6") != NULL);      /* 5 full chunks + 3 bytes */
    CHECK(strstr(json, "\"d2h_messages\": 6") != NULL);
    CHECK(strstr(json, "\"h2d_bytes\": 327683") != NULL);
    CHECK(strstr(json, "\"d2h_bytes\": 327683") != NULL);
    CHECK(strstr(json, "\"tag_failures\": 0") != NULL);
    CHECK(strstr(json, "\"key_rotations\": 0") != NULL);
    CHECK(strstr(json, "\"h2d_driver_crypto_ns\": ") != NULL && strstr(json, "\"h2d_driver_crypto_ns\": 0,") == NULL);
    CHECK(strstr(json, "\"d2h_driver_crypto_ns\": ") != NULL && strstr(json, "\"d2h_driver_crypto_ns\": 0,") == NULL);
    CHECK(strstr(json, "\"h2d_channels_opened\": 1,") != NULL);
    CHECK(strstr(json, "\"h2d_channels_closed\": 0}") != NULL);
    if (!strstr(json, "\"h2d_messages\": 6")) fprintf(stderr, "  stats: %s\n", json);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--child")) return child_main();
    return tr_main(argc, argv);
}
