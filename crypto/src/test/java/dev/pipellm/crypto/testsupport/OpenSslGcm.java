package dev.pipellm.crypto.testsupport;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * AES-GCM encryption by OpenSSL 3's libcrypto through FFM, called exactly as NVIDIA's driver calls it
 * (ARCHITECTURE.md section 2): EncryptInit_ex, EncryptUpdate, EncryptFinal_ex, GET_TAG. The differential oracle.
 * {@link Stream} exposes the same calls one update at a time, in both directions (DecryptInit_ex, DecryptUpdate,
 * SET_TAG, DecryptFinal_ex), so that per-update output can be compared.
 */
public final class OpenSslGcm {
    private static final int EVP_CTRL_GCM_GET_TAG = 0x10;
    private static final int EVP_CTRL_GCM_SET_TAG = 0x11;
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBCRYPTO = SymbolLookup.libraryLookup("libcrypto.so.3", Arena.global());

    private static final MethodHandle CTX_NEW = handle("EVP_CIPHER_CTX_new", FunctionDescriptor.of(ADDRESS));
    private static final MethodHandle CTX_FREE = handle("EVP_CIPHER_CTX_free", FunctionDescriptor.ofVoid(ADDRESS));
    private static final MethodHandle AES_256_GCM = handle("EVP_aes_256_gcm", FunctionDescriptor.of(ADDRESS));
    private static final MethodHandle AES_192_GCM = handle("EVP_aes_192_gcm", FunctionDescriptor.of(ADDRESS));
    private static final MethodHandle AES_128_GCM = handle("EVP_aes_128_gcm", FunctionDescriptor.of(ADDRESS));
    private static final MethodHandle ENCRYPT_INIT = handle("EVP_EncryptInit_ex",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle ENCRYPT_UPDATE = handle("EVP_EncryptUpdate",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT));
    private static final MethodHandle ENCRYPT_FINAL = handle("EVP_EncryptFinal_ex",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle DECRYPT_INIT = handle("EVP_DecryptInit_ex",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle DECRYPT_UPDATE = handle("EVP_DecryptUpdate",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT));
    private static final MethodHandle DECRYPT_FINAL = handle("EVP_DecryptFinal_ex",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle CTRL = handle("EVP_CIPHER_CTX_ctrl",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));

    private OpenSslGcm() {
    }

    private static MethodHandle handle(String name, FunctionDescriptor d) {
        return LINKER.downcallHandle(LIBCRYPTO.find(name).orElseThrow(() -> new IllegalStateException(
                "libcrypto.so.3 has no " + name)), d);
    }

    /** {@link #encrypt(byte[], byte[], byte[], MemorySegment)} of a heap array (copied to native memory). */
    public static byte[] encrypt(byte[] key, byte[] iv, byte[] aad, byte[] plaintext) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocate(Math.max(1, plaintext.length)).asSlice(0, plaintext.length);
            MemorySegment.copy(plaintext, 0, p, ValueLayout.JAVA_BYTE, 0, plaintext.length);
            return encrypt(key, iv, aad, p);
        }
    }

    /** Encrypts {@code plaintext} (12-byte IV, no AAD unless given) and returns ciphertext followed by the tag. */
    public static byte[] encrypt(byte[] key, byte[] iv, byte[] aad, MemorySegment plaintext) {
        if (iv.length != 12) {
            throw new IllegalArgumentException("this oracle uses 12-byte IVs");
        }
        try (Arena arena = Arena.ofConfined()) {
            int len = (int) plaintext.byteSize();
            MemorySegment ctx = (MemorySegment) CTX_NEW.invokeExact();
            try {
                MemorySegment cipher = switch (key.length) {
                    case 16 -> (MemorySegment) AES_128_GCM.invokeExact();
                    case 24 -> (MemorySegment) AES_192_GCM.invokeExact();
                    default -> (MemorySegment) AES_256_GCM.invokeExact();
                };
                MemorySegment k = arena.allocateFrom(ValueLayout.JAVA_BYTE, key);
                MemorySegment v = arena.allocateFrom(ValueLayout.JAVA_BYTE, iv);
                check((int) ENCRYPT_INIT.invokeExact(ctx, cipher, MemorySegment.NULL, k, v), "EncryptInit_ex");
                MemorySegment outLen = arena.allocate(JAVA_INT);
                if (aad != null && aad.length > 0) {
                    MemorySegment a = arena.allocateFrom(ValueLayout.JAVA_BYTE, aad);
                    check((int) ENCRYPT_UPDATE.invokeExact(ctx, MemorySegment.NULL, outLen, a, aad.length), "AAD");
                }
                MemorySegment out = arena.allocate(len + 32L);
                int written = 0;
                if (len > 0) {
                    check((int) ENCRYPT_UPDATE.invokeExact(ctx, out, outLen, plaintext, len), "EncryptUpdate");
                    written = outLen.get(JAVA_INT, 0);
                }
                check((int) ENCRYPT_FINAL.invokeExact(ctx, out.asSlice(written), outLen), "EncryptFinal_ex");
                written += outLen.get(JAVA_INT, 0);
                if (written != len) {
                    throw new IllegalStateException("OpenSSL wrote " + written + " of " + len);
                }
                MemorySegment tag = arena.allocate(16);
                check((int) CTRL.invokeExact(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag), "GET_TAG");
                byte[] result = new byte[len + 16];
                MemorySegment.copy(out, ValueLayout.JAVA_BYTE, 0, result, 0, len);
                MemorySegment.copy(tag, ValueLayout.JAVA_BYTE, 0, result, len, 16);
                return result;
            } finally {
                CTX_FREE.invokeExact(ctx);
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * One AES-256-GCM message through OpenSSL's EVP calls, one update at a time (12-byte IV, no AAD). Not
     * thread-safe; close it to free the context.
     */
    public static final class Stream implements AutoCloseable {
        private final Arena arena = Arena.ofConfined();
        private final MemorySegment ctx;
        private final MemorySegment outLen;
        private final boolean encrypt;
        private MemorySegment inBuf;
        private MemorySegment outBuf;

        public Stream(byte[] key, byte[] iv, boolean encrypt) {
            if (key.length != 32 || iv.length != 12) {
                throw new IllegalArgumentException("this oracle uses AES-256 and 12-byte IVs");
            }
            this.encrypt = encrypt;
            try {
                ctx = (MemorySegment) CTX_NEW.invokeExact();
                MemorySegment cipher = (MemorySegment) AES_256_GCM.invokeExact();
                MemorySegment k = arena.allocateFrom(ValueLayout.JAVA_BYTE, key);
                MemorySegment v = arena.allocateFrom(ValueLayout.JAVA_BYTE, iv);
                int rc = encrypt
                        ? (int) ENCRYPT_INIT.invokeExact(ctx, cipher, MemorySegment.NULL, k, v)
                        : (int) DECRYPT_INIT.invokeExact(ctx, cipher, MemorySegment.NULL, k, v);
                check(rc, encrypt ? "EncryptInit_ex" : "DecryptInit_ex");
                k.fill((byte) 0);
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
            outLen = arena.allocate(JAVA_INT);
            grow(4096);
        }

        private void grow(int bytes) {
            if (inBuf == null || inBuf.byteSize() < bytes) {
                inBuf = arena.allocate(bytes);
                outBuf = arena.allocate(bytes + 32L);
            }
        }

        /**
         * EVP_EncryptUpdate or EVP_DecryptUpdate on {@code in[inOff, inOff+len)}; copies what OpenSSL wrote to
         * {@code out[outOff...]} and returns how many bytes that was.
         */
        public int update(byte[] in, int inOff, int len, byte[] out, int outOff) {
            grow(Math.max(1, len));
            MemorySegment.copy(in, inOff, inBuf, ValueLayout.JAVA_BYTE, 0, len);
            outLen.set(JAVA_INT, 0, -1);
            try {
                int rc = encrypt
                        ? (int) ENCRYPT_UPDATE.invokeExact(ctx, outBuf, outLen, inBuf, len)
                        : (int) DECRYPT_UPDATE.invokeExact(ctx, outBuf, outLen, inBuf, len);
                check(rc, encrypt ? "EncryptUpdate" : "DecryptUpdate");
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
            int written = outLen.get(JAVA_INT, 0);
            MemorySegment.copy(outBuf, ValueLayout.JAVA_BYTE, 0, out, outOff, written);
            return written;
        }

        /** EVP_EncryptFinal_ex (which must write nothing) and GET_TAG: the 16-byte tag. */
        public byte[] finishEncrypt() {
            try {
                check((int) ENCRYPT_FINAL.invokeExact(ctx, outBuf, outLen), "EncryptFinal_ex");
                if (outLen.get(JAVA_INT, 0) != 0) {
                    throw new IllegalStateException("EncryptFinal_ex wrote " + outLen.get(JAVA_INT, 0) + " bytes");
                }
                MemorySegment tag = arena.allocate(16);
                check((int) CTRL.invokeExact(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag), "GET_TAG");
                return tag.toArray(ValueLayout.JAVA_BYTE);
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
        }

        /** SET_TAG with the first {@code tagLen} bytes, then EVP_DecryptFinal_ex: whether the tag verified. */
        public boolean finishDecrypt(byte[] tag, int tagLen) {
            try {
                MemorySegment t = arena.allocateFrom(ValueLayout.JAVA_BYTE, java.util.Arrays.copyOf(tag, tagLen));
                check((int) CTRL.invokeExact(ctx, EVP_CTRL_GCM_SET_TAG, tagLen, t), "SET_TAG");
                int rc = (int) DECRYPT_FINAL.invokeExact(ctx, outBuf, outLen);
                if (rc == 1 && outLen.get(JAVA_INT, 0) != 0) {
                    throw new IllegalStateException("DecryptFinal_ex wrote " + outLen.get(JAVA_INT, 0) + " bytes");
                }
                return rc == 1;
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
        }

        @Override
        public void close() {
            try {
                CTX_FREE.invokeExact(ctx);
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new AssertionError(t);
            } finally {
                arena.close();
            }
        }
    }

    private static void check(int rc, String what) {
        if (rc != 1) {
            throw new IllegalStateException("OpenSSL " + what + " failed: " + rc);
        }
    }
}
