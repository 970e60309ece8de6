// copybench: host<->device copy bandwidth of pinned buffers, the way an LLM server swaps weights
// or KV blocks. An ordinary CUDA program (nvcc -cudart shared): it runs unchanged on a real GPU
// and on simgpu. Output, one line per size and direction: "<h2d|d2h> <bytes> <GB/s>".
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#define CHECK(call)                                                                         \
    do {                                                                                    \
        cudaError_t e_ = (call);                                                            \
        if (e_ != cudaSuccess) {                                                            \
            std::fprintf(stderr, "copybench: %s failed: %s\n", #call, cudaGetErrorString(e_)); \
            std::exit(1);                                                                   \
        }                                                                                   \
    } while (0)

static double seconds_now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main(int argc, char **argv) {
    double budget_s = argc > 1 ? std::atof(argv[1]) : 0.3;   // time per size and direction
    const size_t sizes[] = {256u << 10, 1u << 20, 16u << 20, 64u << 20};
    const size_t max_size = 64u << 20;
    char *host = nullptr, *dev = nullptr;
    CHECK(cudaMallocHost(&host, max_size));
    CHECK(cudaMalloc(&dev, max_size));
    std::memset(host, 0x5a, max_size);
    cudaStream_t stream;
    CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    for (size_t n : sizes) {
        for (int dir = 0; dir < 2; dir++) {
            auto copy = [&] {
                if (dir == 0) CHECK(cudaMemcpyAsync(dev, host, n, cudaMemcpyHostToDevice, stream));
                else CHECK(cudaMemcpyAsync(host, dev, n, cudaMemcpyDeviceToHost, stream));
            };
            copy();   // warm-up: first touch of pages, crypto contexts
            CHECK(cudaStreamSynchronize(stream));
            long reps = 0;
            double start = seconds_now(), now = start;
            while (now - start < budget_s || reps < 3) {
                copy();
                CHECK(cudaStreamSynchronize(stream));
                reps++;
                now = seconds_now();
            }
            std::printf("%s %zu %.3f\n", dir == 0 ? "h2d" : "d2h", n, (double)n * reps / (now - start) / 1e9);
        }
    }
    CHECK(cudaStreamDestroy(stream));
    CHECK(cudaFree(dev));
    CHECK(cudaFreeHost(host));
    return 0;
}
