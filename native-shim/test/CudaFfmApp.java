import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Arrays;

/**
 * A JVM program that drives the CUDA runtime through hand-written FFM bindings, run under
 * {@code -agentpath:libpipellm.so}. It loads libcudart RTLD_GLOBAL and resolves each function in the
 * process's global scope ({@code dlsym(RTLD_DEFAULT, ...)}), where the promoted agent comes first;
 * {@code SymbolLookup.libraryLookup} would bind straight to libcudart and bypass interposition.
 * Exits 0 after a byte-exact round trip. Arguments choose how it ends, as servers do:
 * {@code exit} (default: System.exit), {@code return} (main returns: the JVM is destroyed after
 * main), {@code exit-in-flight N} (System.exit(N) while a second thread is in the middle of copies).
 */
public final class CudaFfmApp {
    private static final int RTLD_NOW_GLOBAL = 0x2 | 0x100;
    private static final int H2D = 1, D2H = 2;

    public static void main(String[] args) throws Throwable {
        Linker linker = Linker.nativeLinker();
        var libc = linker.defaultLookup();
        MethodHandle dlopen = linker.downcallHandle(libc.find("dlopen").orElseThrow(),
                FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT));
        MethodHandle dlsym = linker.downcallHandle(libc.find("dlsym").orElseThrow(),
                FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment lib = (MemorySegment) dlopen.invokeExact(arena.allocateFrom("libcudart.so.13"), RTLD_NOW_GLOBAL);
            if (lib.equals(MemorySegment.NULL)) throw new IllegalStateException("libcudart.so.13 not found");
            MethodHandle malloc = bind(linker, dlsym, arena, "cudaMalloc", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
            MethodHandle memcpy = bind(linker, dlsym, arena, "cudaMemcpy",
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT));
            MethodHandle free = bind(linker, dlsym, arena, "cudaFree", FunctionDescriptor.of(JAVA_INT, ADDRESS));
            int n = 5 * (1 << 20) + 3;
            MemorySegment src = arena.allocate(n), back = arena.allocate(n), devPtr = arena.allocate(ADDRESS);
            for (int i = 0; i < n; i++) src.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) (i * 11));
            check((int) malloc.invokeExact(devPtr, (long) n), "cudaMalloc");
            MemorySegment dev = devPtr.get(ADDRESS, 0);
            check((int) memcpy.invokeExact(dev, src, (long) n, H2D), "cudaMemcpy H2D");
            check((int) memcpy.invokeExact(back, dev, (long) n, D2H), "cudaMemcpy D2H");
            check((int) free.invokeExact(dev), "cudaFree");
            boolean same = Arrays.equals(src.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE),
                    back.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            System.out.println("jvm ffm round trip: " + (same ? "ok" : "MISMATCH"));
            String end = args.length > 0 ? args[0] : "exit";
            if (!same) System.exit(1);
            if (end.equals("exit-in-flight")) exitInFlight(malloc, memcpy, Integer.parseInt(args[1]));
            if (!end.equals("return")) System.exit(0);
        }
    }

    /** Exits while another thread is copying without pause (a server stopped mid-request). */
    private static void exitInFlight(MethodHandle malloc, MethodHandle memcpy, int status) throws Throwable {
        Arena shared = Arena.ofShared();
        int n = 3 << 20;
        MemorySegment src = shared.allocate(n), back = shared.allocate(n), devPtr = shared.allocate(ADDRESS);
        check((int) malloc.invokeExact(devPtr, (long) n), "cudaMalloc");
        MemorySegment dev = devPtr.get(ADDRESS, 0);
        java.util.concurrent.CountDownLatch copying = new java.util.concurrent.CountDownLatch(1);
        Thread t = new Thread(() -> {
            try {
                for (;;) {
                    check((int) memcpy.invokeExact(dev, src, (long) n, H2D), "cudaMemcpy H2D");
                    check((int) memcpy.invokeExact(back, dev, (long) n, D2H), "cudaMemcpy D2H");
                    copying.countDown();
                }
            } catch (Throwable e) {
                throw new IllegalStateException(e);
            }
        }, "copier");
        t.setDaemon(true);
        t.start();
        copying.await();
        Thread.sleep(20);
        System.exit(status);
    }

    private static MethodHandle bind(Linker linker, MethodHandle dlsym, Arena arena, String name, FunctionDescriptor fd)
            throws Throwable {
        MemorySegment f = (MemorySegment) dlsym.invokeExact(MemorySegment.NULL, arena.allocateFrom(name));
        if (f.equals(MemorySegment.NULL)) throw new IllegalStateException(name + " not found");
        return linker.downcallHandle(f, fd);
    }

    private static void check(int rc, String what) {
        if (rc != 0) throw new IllegalStateException(what + " failed: " + rc);
    }
}
