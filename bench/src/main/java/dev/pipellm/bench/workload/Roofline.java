package dev.pipellm.bench.workload;

/**
 * GPU time of a kernel from its FLOPs and HBM bytes on an H100 SXM5: {@code max(flops / PEAK_FLOPS, bytes / HBM)}.
 * Constants from NVIDIA's H100 Tensor Core GPU datasheet (H100 SXM column): 989.4 TFLOP/s dense FP16/BF16 Tensor
 * Core (1,979 with sparsity, not used), 3.35 TB/s HBM3. Peak rates, no efficiency factor: real kernels are
 * slower, so modelled compute is a lower bound, which makes copies (and their encryption) weigh more, never less.
 */
public final class Roofline {
    public static final double PEAK_FLOPS = 989.4e12;
    public static final double HBM_BYTES_PER_S = 3.35e12;

    private Roofline() {
    }

    public static long ns(double flops, double bytes) {
        return (long) Math.ceil(Math.max(flops / PEAK_FLOPS, bytes / HBM_BYTES_PER_S) * 1e9);
    }
}
