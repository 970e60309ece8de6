import static jcuda.driver.JCudaDriver.*;

import java.nio.ByteBuffer;
import java.util.Arrays;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * An inference-style JVM program on JCuda's driver bindings: the weights of a model are streamed to
 * the GPU layer by layer (what an offloading server does when the model does not fit), double
 * buffered: two pinned staging buffers, two device buffers, two streams, the next layer's upload
 * ordered after the previous layer's "compute" by an event. Each layer is read back and compared
 * with what was sent, byte for byte. Run it under {@code -agentpath:libpipellm.so=...} on simgpu
 * (shim_e2e_test.py, docs/deployment.md). Prints "copies N" and "weights: ok"; exit 1 on a mismatch.
 * Usage: java -cp jcuda.jar:jcuda-natives.jar JCudaWeightsApp.java [LAYERS] [LAYER_BYTES]
 */
public class JCudaWeightsApp {
    public static void main(String[] args) {
        int layers = args.length > 0 ? Integer.parseInt(args[0]) : 12;
        int bytes = args.length > 1 ? Integer.parseInt(args[1]) : (3 << 20) / 2 + 17;
        JCudaDriver.setExceptionsEnabled(true);
        cuInit(0);
        CUdevice dev = new CUdevice();
        cuDeviceGet(dev, 0);
        CUcontext ctx = new CUcontext();
        cuDevicePrimaryCtxRetain(ctx, dev);
        cuCtxSetCurrent(ctx);

        Pointer[] staging = new Pointer[2];
        ByteBuffer[] view = new ByteBuffer[2];
        CUdeviceptr[] weights = new CUdeviceptr[2];
        CUstream[] streams = new CUstream[2];
        CUevent[] computed = new CUevent[2];
        for (int i = 0; i < 2; i++) {
            staging[i] = new Pointer();
            cuMemAllocHost(staging[i], bytes);
            view[i] = staging[i].getByteBuffer(0, bytes);
            weights[i] = new CUdeviceptr();
            cuMemAlloc(weights[i], bytes);
            streams[i] = new CUstream();
            cuStreamCreate(streams[i], 0);
            computed[i] = new CUevent();
            cuEventCreate(computed[i], 0);
        }
        CUdeviceptr activations = new CUdeviceptr();
        cuMemAlloc(activations, bytes);

        byte[] layer = new byte[bytes], back = new byte[bytes];
        int copies = 0, bad = 0;
        for (int l = 0; l < layers; l++) {
            int b = l % 2;
            fill(layer, l);
            // the buffer's previous layer must be done before its staging and device memory are reused
            cuEventSynchronize(computed[b]);
            view[b].clear();
            view[b].put(layer);
            cuMemcpyHtoDAsync(weights[b], staging[b], bytes, streams[b]);
            // "compute": the layer's weights feed the activations, on the layer's stream
            cuMemcpyDtoDAsync(activations, weights[b], bytes, streams[b]);
            cuEventRecord(computed[b], streams[b]);
            copies += 2;
            // verification: the layer as the device holds it
            cuStreamWaitEvent(streams[b], computed[b], 0);
            cuMemcpyDtoHAsync(Pointer.to(back), activations, bytes, streams[b]);
            cuStreamSynchronize(streams[b]);
            copies++;
            if (!Arrays.equals(layer, back)) bad++;
        }
        cuCtxSynchronize();
        for (int i = 0; i < 2; i++) {
            cuEventDestroy(computed[i]);
            cuStreamDestroy(streams[i]);
            cuMemFree(weights[i]);
            cuMemFreeHost(staging[i]);
        }
        cuMemFree(activations);
        cuDevicePrimaryCtxRelease(dev);
        System.out.println("copies " + copies);
        // HotSpot's own SIGSEGV use still works under the agent (validate=uffd installs no handler):
        // compiled code dereferencing null takes an implicit null check, a SIGSEGV turned into an NPE
        int npes = implicitNullChecks();
        System.out.println("npes " + npes);
        System.out.println(bad == 0 ? "weights: ok" : "weights: " + bad + " layers differ");
        System.exit(bad == 0 && npes == NPE_ROUNDS ? 0 : 1);
    }

    private static final int NPE_ROUNDS = 200_000;
    private static volatile int[] maybeNull = new int[1];

    private static int implicitNullChecks() {
        int caught = 0;
        for (int i = 0; i < NPE_ROUNDS; i++) {
            int[] a = (i & 1) == 0 ? null : maybeNull;
            try {
                a[0]++;
                if (a != null) caught++;   // the non-null half counts too: NPE_ROUNDS in all
            } catch (NullPointerException e) {
                caught++;
            }
        }
        return caught;
    }

    private static void fill(byte[] b, int layer) {
        long x = 0x9E3779B97F4A7C15L * (layer + 1);
        for (int i = 0; i < b.length; i++) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            b[i] = (byte) x;
        }
    }
}
