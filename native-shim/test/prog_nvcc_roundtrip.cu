// An unmodified CUDA program built by nvcc with -cudart shared: registers a fat binary, tries a
// kernel launch (which simgpu refuses clearly), copies data both ways and checks it. Exit 0 = ok.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>
#include <vector>

__global__ void add_one(int *p, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) p[i] += 1;
}

int main() {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count < 1) { std::puts("no device"); return 1; }
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return 2;
    std::printf("device: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
    const int n = 1 << 20;
    std::vector<int> h(n), back(n);
    for (int i = 0; i < n; i++) h[i] = i * 3;
    int *d = nullptr;
    if (cudaMalloc(&d, n * sizeof(int)) != cudaSuccess) return 3;
    if (cudaMemcpy(d, h.data(), n * sizeof(int), cudaMemcpyHostToDevice) != cudaSuccess) return 4;
    add_one<<<(n + 255) / 256, 256>>>(d, n);
    cudaError_t launch = cudaGetLastError();
    std::printf("kernel launch: %s\n", cudaGetErrorName(launch));
    if (cudaMemcpy(back.data(), d, n * sizeof(int), cudaMemcpyDeviceToHost) != cudaSuccess) return 5;
    bool same = std::memcmp(h.data(), back.data(), n * sizeof(int)) == 0;
    bool added = true;
    for (int i = 0; i < n && added; i++) added = back[i] == h[i] + 1;
    // On simgpu the launch fails and data is unchanged; on a real GPU it succeeds and adds one.
    bool ok = launch == cudaSuccess ? added : (launch == cudaErrorNoKernelImageForDevice && same);
    std::printf("round trip: %s\n", ok ? "ok" : "MISMATCH");
    cudaFree(d);
    return ok ? 0 : 6;
}
