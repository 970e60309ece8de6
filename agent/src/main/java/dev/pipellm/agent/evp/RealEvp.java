package dev.pipellm.agent.evp;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The real OpenSSL functions, called through the shim's real-function table. Used only to replay a
 * message the agent could not finish (error path: allocation is fine here, speed does not matter),
 * inside the driver's own EVP call. These calls go straight to libcrypto, never through the shim's
 * hooks.
 *
 * <p>Each table entry is read every time it is needed: the shim may fill an entry after bootstrap
 * (libcrypto loaded late). Downcall handles are address-less (the function address is the first
 * argument) and created on first use, in a holder class.
 */
public final class RealEvp {
    /** Result when the real function is not (yet) in the table. */
    public static final int NO_REAL = Integer.MIN_VALUE;

    private final long realTable;
    private final HookIds ids;

    public RealEvp(long realTable, HookIds ids) {
        this.realTable = realTable;
        this.ids = ids;
    }

    private static final class Handles {
        static final Linker LINKER = Linker.nativeLinker();
        static final ValueLayout P = ValueLayout.ADDRESS;
        static final ValueLayout I = ValueLayout.JAVA_INT;
        static final MethodHandle CIPHER = LINKER.downcallHandle(FunctionDescriptor.of(P));
        static final MethodHandle INIT = LINKER.downcallHandle(FunctionDescriptor.of(I, P, P, P, P, P));
        static final MethodHandle UPDATE = LINKER.downcallHandle(FunctionDescriptor.of(I, P, P, P, P, I));
        static final MethodHandle FINAL = LINKER.downcallHandle(FunctionDescriptor.of(I, P, P, P));
        static final MethodHandle CTRL = LINKER.downcallHandle(FunctionDescriptor.of(I, P, I, I, P));
    }

    /** Address of real function {@code id}, or 0. */
    public long function(int id) {
        if (id < 0 || id >= ids.count || realTable == 0) return 0;
        return NativeMemory.getAddress(realTable + 8L * id);
    }

    public HookIds ids() {
        return ids;
    }

    private static MemorySegment p(long a) {
        return MemorySegment.ofAddress(a);
    }

    /** EVP_{En,De}cryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv). */
    public int initAes256Gcm(boolean enc, long ctx, long key, long iv) throws Throwable {
        long cipherFn = function(ids.aes256Gcm);
        long init = function(enc ? ids.encryptInit : ids.decryptInit);
        if (cipherFn == 0 || init == 0) return NO_REAL;
        MemorySegment cipher = (MemorySegment) Handles.CIPHER.invokeExact(p(cipherFn));
        if (cipher.address() == 0) return 0;
        return (int) Handles.INIT.invokeExact(p(init), p(ctx), cipher, MemorySegment.NULL, p(key), p(iv));
    }

    public int update(boolean enc, long ctx, long out, long outl, long in, int inl) throws Throwable {
        long f = function(enc ? ids.encryptUpdate : ids.decryptUpdate);
        if (f == 0) return NO_REAL;
        return (int) Handles.UPDATE.invokeExact(p(f), p(ctx), p(out), p(outl), p(in), inl);
    }

    public int finish(boolean enc, long ctx, long out, long outl) throws Throwable {
        long f = function(enc ? ids.encryptFinal : ids.decryptFinal);
        if (f == 0) return NO_REAL;
        return (int) Handles.FINAL.invokeExact(p(f), p(ctx), p(out), p(outl));
    }

    public int ctrl(long ctx, int type, int arg, long ptr) throws Throwable {
        long f = function(ids.ctrl);
        if (f == 0) return NO_REAL;
        return (int) Handles.CTRL.invokeExact(p(f), p(ctx), type, arg, p(ptr));
    }

    /** Native scratch for a replay: key, IV, tag, an int for outl and a 16-byte final output. */
    static MemorySegment scratch(Arena arena) {
        return arena.allocate(128, 16);
    }
}
