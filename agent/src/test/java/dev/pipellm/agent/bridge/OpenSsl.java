package dev.pipellm.agent.bridge;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The real OpenSSL 3 (libcrypto.so.3) through FFM: the reference, and the "real functions" of a test shim. */
final class OpenSsl {
    static final Arena ARENA = Arena.global();
    static final SymbolLookup CRYPTO = SymbolLookup.libraryLookup("libcrypto.so.3", ARENA);
    private static final Linker LINKER = Linker.nativeLinker();
    private static final ValueLayout P = ValueLayout.ADDRESS;
    private static final ValueLayout I = ValueLayout.JAVA_INT;

    static final MethodHandle CTX_NEW = handle("EVP_CIPHER_CTX_new", FunctionDescriptor.of(P));
    static final MethodHandle CTX_FREE = handle("EVP_CIPHER_CTX_free", FunctionDescriptor.ofVoid(P));
    static final MethodHandle AES_256_GCM = handle("EVP_aes_256_gcm", FunctionDescriptor.of(P));
    static final MethodHandle ENC_INIT = handle("EVP_EncryptInit_ex", FunctionDescriptor.of(I, P, P, P, P, P));
    static final MethodHandle ENC_UPDATE = handle("EVP_EncryptUpdate", FunctionDescriptor.of(I, P, P, P, P, I));
    static final MethodHandle ENC_FINAL = handle("EVP_EncryptFinal_ex", FunctionDescriptor.of(I, P, P, P));
    static final MethodHandle DEC_INIT = handle("EVP_DecryptInit_ex", FunctionDescriptor.of(I, P, P, P, P, P));
    static final MethodHandle DEC_UPDATE = handle("EVP_DecryptUpdate", FunctionDescriptor.of(I, P, P, P, P, I));
    static final MethodHandle DEC_FINAL = handle("EVP_DecryptFinal_ex", FunctionDescriptor.of(I, P, P, P));
    static final MethodHandle CTRL = handle("EVP_CIPHER_CTX_ctrl", FunctionDescriptor.of(I, P, I, I, P));

    private OpenSsl() {}

    private static MethodHandle handle(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(CRYPTO.find(name).orElseThrow(), fd);
    }

    static MemorySegment p(long a) {
        return MemorySegment.ofAddress(a);
    }

    static long newCtx() throws Throwable {
        return ((MemorySegment) CTX_NEW.invokeExact()).address();
    }

    static void freeCtx(long ctx) throws Throwable {
        CTX_FREE.invokeExact(p(ctx));
    }

    static MemorySegment gcm() throws Throwable {
        return (MemorySegment) AES_256_GCM.invokeExact();
    }

    static int init(boolean enc, long ctx, long key, long iv) throws Throwable {
        return enc ? (int) ENC_INIT.invokeExact(p(ctx), gcm(), MemorySegment.NULL, p(key), p(iv))
                : (int) DEC_INIT.invokeExact(p(ctx), gcm(), MemorySegment.NULL, p(key), p(iv));
    }

    static int update(boolean enc, long ctx, long out, long outl, long in, int inl) throws Throwable {
        return enc ? (int) ENC_UPDATE.invokeExact(p(ctx), p(out), p(outl), p(in), inl)
                : (int) DEC_UPDATE.invokeExact(p(ctx), p(out), p(outl), p(in), inl);
    }

    static int finish(boolean enc, long ctx, long out, long outl) throws Throwable {
        return enc ? (int) ENC_FINAL.invokeExact(p(ctx), p(out), p(outl))
                : (int) DEC_FINAL.invokeExact(p(ctx), p(out), p(outl));
    }

    static int ctrl(long ctx, int type, int arg, long ptr) throws Throwable {
        return (int) CTRL.invokeExact(p(ctx), type, arg, p(ptr));
    }

    /** One-shot reference encryption: ciphertext || tag. */
    static byte[] encrypt(byte[] key, byte[] iv, byte[] pt) throws Throwable {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment k = a.allocateFrom(ValueLayout.JAVA_BYTE, key);
            MemorySegment v = a.allocateFrom(ValueLayout.JAVA_BYTE, iv);
            MemorySegment in = a.allocate(Math.max(pt.length, 1));
            MemorySegment.copy(pt, 0, in, ValueLayout.JAVA_BYTE, 0, pt.length);
            MemorySegment out = a.allocate(pt.length + 16L);
            MemorySegment outl = a.allocate(ValueLayout.JAVA_INT);
            long ctx = newCtx();
            try {
                check(init(true, ctx, k.address(), v.address()));
                check(update(true, ctx, out.address(), outl.address(), in.address(), pt.length));
                check(outl.get(ValueLayout.JAVA_INT, 0) == pt.length ? 1 : 0);
                check(finish(true, ctx, out.address() + pt.length, outl.address()));
                check(ctrl(ctx, 0x10, 16, out.address() + pt.length));
            } finally {
                freeCtx(ctx);
            }
            return out.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    private static void check(int r) {
        if (r != 1) throw new IllegalStateException("OpenSSL call failed: " + r);
    }

    /** Hook names in shim_hooks.def order (the shim passes the same string to bootstrap). */
    static List<String> hookNames() throws IOException {
        Path def = Path.of(System.getProperty("pipellm.hooks.def", "../native-shim/shim/shim_hooks.def"));
        Pattern x = Pattern.compile("^X\\(([^,]*),\\s*(\\w+)\\s*,");
        List<String> names = new ArrayList<>();
        for (String line : Files.readAllLines(def)) {
            Matcher m = x.matcher(line);
            if (m.find()) names.add(m.group(2));
        }
        if (names.isEmpty()) throw new IllegalStateException("no hooks in " + def);
        return names;
    }

    /** A real-function table like the shim's: libcrypto addresses by name, NULL for the CUDA entries. */
    static MemorySegment realTable(List<String> names) {
        MemorySegment t = ARENA.allocate(ValueLayout.ADDRESS, names.size());
        for (int i = 0; i < names.size(); i++) {
            long a = names.get(i).startsWith("EVP_") ? CRYPTO.find(names.get(i)).map(MemorySegment::address).orElse(0L) : 0L;
            t.setAtIndex(ValueLayout.JAVA_LONG, i, a);
        }
        return t;
    }
}
