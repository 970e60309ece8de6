package dev.pipellm.crypto.gcm;

import dev.pipellm.crypto.key.GcmKey;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.InvocationTargetException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * AES-GCM on Bouncy Castle LTS ({@code bcprov-lts8on}) native code, through its one-shot
 * {@code AESGCMPacketCipher}, loaded so that the native code is really used.
 *
 * <p><b>Why a dedicated class loader.</b> {@code bcprov-lts8on} and {@code bcprov-jdk18on} both define
 * {@code org.bouncycastle.*}; on one class path whichever comes first wins class by class, which is undefined
 * behaviour. The LTS jar also cannot be shaded with relocation: its JNI symbols are bound to the
 * {@code org.bouncycastle} class names, so a relocated copy silently runs pure Java (~90x slower). So this module
 * never puts it on any class path: Maven copies the jar to {@code target/bc-lts/bcprov-lts8on.jar}
 * (maven-dependency-plugin), and {@link #load(Path)} opens it in a {@link URLClassLoader} whose parent is the
 * <em>platform</em> class loader, so not even a {@code bcprov-jdk18on} on the application class path (as in our
 * tests) is visible to it, and it is visible to nobody else. All calls go through method handles.
 * The agent ships the jar beside its own and points {@value #JAR_PROPERTY} (or {@value #JAR_ENV}) at it.
 *
 * <p><b>Why the native check.</b> BC-LTS falls back to pure Java, without telling anyone, when it cannot
 * extract its library to {@code java.io.tmpdir} (no tmp, {@code noexec}), when the CPU probe fails, when
 * {@code -Dorg.bouncycastle.native.cpu_variant=java} is set, or when it was relocated. {@link #load} therefore
 * asks the library itself ({@code CryptoServicesRegistrar.getNativeServices()}: installed, enabled, variant,
 * {@code AES/GCM-PC} service) and checks that {@code AESGCMPacketCipher.newInstance()} really returned the native
 * class; otherwise it refuses, with the library's own status message, and the selector falls back to the JDK.
 *
 * <p><b>Why only the packet API.</b> CVE-2026-8149 (GHSA-mx76-r943-rf8g): native GCM decryption fed through
 * {@code update()} then {@code doFinal()} can report a wrong tag. The packet API processes each message in one
 * native call and is also the fast one (~0.7 us per 4 KiB message against ~5 us per re-init of
 * {@code GCMBlockCipher}).
 *
 * <p><b>Allocation.</b> The packet API takes fresh {@code AEADParameters} per call (it clones the nonce, and the
 * native wrapper clones key and nonce for its reuse guard), so each message allocates ~200 bytes inside BC; our
 * staging arrays are per thread and only grow. Ciphertext and tag are contiguous in the packet API, so a detached
 * tag or a segment costs one staging copy.
 *
 * <p><b>Keys.</b> Each thread keeps a {@code KeyParameter} copy of the current key; it is zeroed when the thread
 * sees a different key and on {@link #close()}. BC's internal clones (its reuse guard) are beyond our reach.
 */
public final class BcLtsGcmEngine implements GcmEngine {

    /** System property naming the bcprov-lts8on jar. */
    public static final String JAR_PROPERTY = "pipellm.crypto.bcLtsJar";
    /** Environment variable naming the bcprov-lts8on jar, used when the property is absent. */
    public static final String JAR_ENV = "PIPELLM_BC_LTS_JAR";

    static final String NATIVE_GCM_CLASS = "org.bouncycastle.crypto.engines.AESNativeGCMPacketCipher";
    private static final String NAME = "bc-lts-native";

    private final URLClassLoader loader;
    private final String nativeVariant;
    private final MethodHandle newCipher;      // ()Object
    private final MethodHandle processPacket;  // (Object,boolean,Object,byte[],int,int,byte[],int)int
    private final MethodHandle newKeyParameter; // (byte[])Object
    private final MethodHandle newAeadParameters; // (Object,int,byte[],byte[])Object
    private final MethodHandle exceptionReason; // (Throwable)Object, for PacketCipherException only
    private final Class<?> packetCipherException;
    private final ThreadLocal<ThreadState> states;
    private final Set<ThreadState> allStates = ConcurrentHashMap.newKeySet();
    private final LongAdder failures = new LongAdder();
    private volatile boolean closed;

    /** What {@link #load} did: the engine, or {@code null} and why not. Never contains key material. */
    public record LoadOutcome(BcLtsGcmEngine engine, String report) {
    }

    private BcLtsGcmEngine(URLClassLoader loader, String nativeVariant) throws ReflectiveOperationException {
        this.loader = loader;
        this.nativeVariant = nativeVariant;
        MethodHandles.Lookup lookup = MethodHandles.publicLookup();
        Class<?> cipherParameters = Class.forName("org.bouncycastle.crypto.CipherParameters", false, loader);
        Class<?> packetCipher = Class.forName("org.bouncycastle.crypto.PacketCipher", false, loader);
        Class<?> gcmPacketCipher = Class.forName("org.bouncycastle.crypto.modes.AESGCMPacketCipher", true, loader);
        Class<?> modeCipher = Class.forName("org.bouncycastle.crypto.modes.AESGCMModePacketCipher", false, loader);
        Class<?> keyParameter = Class.forName("org.bouncycastle.crypto.params.KeyParameter", false, loader);
        Class<?> aeadParameters = Class.forName("org.bouncycastle.crypto.params.AEADParameters", false, loader);
        this.packetCipherException = Class.forName("org.bouncycastle.crypto.PacketCipherException", false, loader);
        Class<?> reason = Class.forName("org.bouncycastle.crypto.PacketCipherException$Reason", false, loader);

        this.newCipher = lookup.findStatic(gcmPacketCipher, "newInstance", MethodType.methodType(modeCipher))
                .asType(MethodType.methodType(Object.class));
        this.processPacket = lookup.findVirtual(packetCipher, "processPacket", MethodType.methodType(int.class,
                        boolean.class, cipherParameters, byte[].class, int.class, int.class, byte[].class, int.class))
                .asType(MethodType.methodType(int.class, Object.class, boolean.class, Object.class,
                        byte[].class, int.class, int.class, byte[].class, int.class));
        this.newKeyParameter = lookup.findConstructor(keyParameter, MethodType.methodType(void.class, byte[].class))
                .asType(MethodType.methodType(Object.class, byte[].class));
        this.newAeadParameters = lookup.findConstructor(aeadParameters, MethodType.methodType(void.class,
                        keyParameter, int.class, byte[].class, byte[].class))
                .asType(MethodType.methodType(Object.class, Object.class, int.class, byte[].class, byte[].class));
        this.exceptionReason = lookup.findVirtual(packetCipherException, "getReason", MethodType.methodType(reason))
                .asType(MethodType.methodType(Object.class, Throwable.class));
        this.states = ThreadLocal.withInitial(this::newState);
    }

    /** The jar named by {@value #JAR_PROPERTY}, else {@value #JAR_ENV}, else {@code null}. */
    public static Path configuredJar() {
        String p = System.getProperty(JAR_PROPERTY);
        if (p == null || p.isBlank()) {
            p = System.getenv(JAR_ENV);
        }
        return p == null || p.isBlank() ? null : Path.of(p);
    }

    /**
     * Loads bcprov-lts8on from {@code jar} in its own class loader and accepts it only if its native AES-GCM
     * packet cipher is active. Never throws: a refusal comes back as a report.
     */
    public static LoadOutcome load(Path jar) {
        if (jar == null) {
            return new LoadOutcome(null, "bc-lts refused: no jar configured (set -D" + JAR_PROPERTY
                    + " or " + JAR_ENV + ")");
        }
        if (!Files.isRegularFile(jar) || !Files.isReadable(jar)) {
            return new LoadOutcome(null, "bc-lts refused: jar not readable at " + jar.toAbsolutePath()
                    + " (set -D" + JAR_PROPERTY + " or " + JAR_ENV + ")");
        }
        URLClassLoader loader;
        try {
            loader = new URLClassLoader("pipellm-bc-lts", new URL[]{jar.toUri().toURL()},
                    ClassLoader.getPlatformClassLoader());
        } catch (IOException e) {
            return new LoadOutcome(null, "bc-lts refused: bad jar path " + jar + ": " + e);
        }
        String refusal;
        try {
            Class<?> registrar = Class.forName("org.bouncycastle.crypto.CryptoServicesRegistrar", true, loader);
            Class<?> nativeServicesType = Class.forName("org.bouncycastle.crypto.NativeServices", false, loader);
            Object services = registrar.getMethod("getNativeServices").invoke(null);
            boolean installed = (Boolean) nativeServicesType.getMethod("isInstalled").invoke(services);
            boolean enabled = (Boolean) nativeServicesType.getMethod("isEnabled").invoke(services);
            String variant = String.valueOf(nativeServicesType.getMethod("getVariant").invoke(services));
            String status = String.valueOf(nativeServicesType.getMethod("getStatusMessage").invoke(services));
            boolean packetGcm = (Boolean) nativeServicesType.getMethod("hasService", String.class)
                    .invoke(services, "AES/GCM-PC");
            String state = "status='" + status + "', variant=" + variant + ", installed=" + installed
                    + ", enabled=" + enabled + ", AES/GCM-PC=" + packetGcm;
            if (!installed || !enabled || !packetGcm || "java".equalsIgnoreCase(variant) || "null".equals(variant)) {
                refusal = "bc-lts refused: native AES-GCM not active, it would run pure Java (" + state + ")";
            } else {
                BcLtsGcmEngine engine = new BcLtsGcmEngine(loader, variant);
                String cipherClass = engine.newCipher.invoke().getClass().getName();
                if (!NATIVE_GCM_CLASS.equals(cipherClass)) {
                    refusal = "bc-lts refused: AESGCMPacketCipher.newInstance() gave " + cipherClass
                            + ", not the native " + NATIVE_GCM_CLASS + " (" + state + ")";
                } else {
                    return new LoadOutcome(engine, "bc-lts loaded from " + jar.toAbsolutePath() + " (" + state + ")");
                }
            }
        } catch (ClassNotFoundException | NoSuchMethodException e) {
            refusal = "bc-lts refused: " + jar + " has no usable org.bouncycastle classes (relocated, or not "
                    + "bcprov-lts8on?): " + e;
        } catch (InvocationTargetException e) {
            refusal = "bc-lts refused: library initialisation failed: " + e.getCause();
        } catch (Throwable e) {
            refusal = "bc-lts refused: " + e;
        }
        try {
            loader.close();
        } catch (IOException ignored) {
            // the loader is unreachable either way
        }
        return new LoadOutcome(null, refusal);
    }

    /** The native variant BC selected for this CPU, e.g. {@code vaesf}. */
    public String nativeVariant() {
        return nativeVariant;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public long failureCount() {
        return failures.sum();
    }

    private ThreadState newState() {
        try {
            ThreadState s = new ThreadState(newCipher.invoke());
            allStates.add(s);
            return s;
        } catch (Throwable t) {
            throw new IllegalStateException("bc-lts packet cipher creation failed", t);
        }
    }

    // ------------------------------------------------------------------------------------------ heap

    @Override
    public int encrypt(GcmKey key, byte[] iv, byte[] aad, byte[] in, int inOffset, int length,
                       byte[] out, int outOffset, byte[] tag, int tagOffset) {
        int check = JdkGcmEngine.checkArrays(iv, in, inOffset, length, out, outOffset, tag, tagOffset);
        if (check != OK) {
            return check;
        }
        if (closed) {
            return ENGINE_CLOSED;
        }
        final ThreadState s = states.get();
        try {
            Object params = s.parameters(key, iv, aad, true);
            if (params == null) {
                return KEY_DESTROYED;
            }
            if (tag == out && tagOffset == outOffset + length) {
                // The caller's layout is the packet layout: ciphertext then tag.
                int n = s.seal(params, in, inOffset, length, out, outOffset);
                return n == length + TAG_BYTES ? OK : fail(s, key);
            }
            byte[] staged = s.stagingOut(length + TAG_BYTES);
            int n = s.seal(params, in, inOffset, length, staged, 0);
            if (n != length + TAG_BYTES) {
                return fail(s, key);
            }
            System.arraycopy(staged, 0, out, outOffset, length);
            System.arraycopy(staged, length, tag, tagOffset, TAG_BYTES);
            return OK;
        } catch (Throwable t) {
            return fail(s, key);
        }
    }

    @Override
    public int decrypt(GcmKey key, byte[] iv, byte[] aad, byte[] in, int inOffset, int length,
                       byte[] out, int outOffset, byte[] tag, int tagOffset) {
        int check = JdkGcmEngine.checkArrays(iv, in, inOffset, length, out, outOffset, tag, tagOffset);
        if (check != OK) {
            return check;
        }
        if (closed) {
            return ENGINE_CLOSED;
        }
        final ThreadState s = states.get();
        try {
            Object params = s.parameters(key, iv, aad, false);
            if (params == null) {
                return KEY_DESTROYED;
            }
            int n;
            if (tag == in && tagOffset == inOffset + length) {
                n = (int) processPacket.invokeExact(s.cipher, false, params, in, inOffset, length + TAG_BYTES,
                        out, outOffset);
            } else {
                byte[] staged = s.stagingIn(length + TAG_BYTES);
                System.arraycopy(in, inOffset, staged, 0, length);
                System.arraycopy(tag, tagOffset, staged, length, TAG_BYTES);
                n = (int) processPacket.invokeExact(s.cipher, false, params, staged, 0, length + TAG_BYTES,
                        out, outOffset);
            }
            return n == length ? OK : fail(s, key);
        } catch (Throwable t) {
            if (isTagFailure(t)) {
                Arrays.fill(out, outOffset, outOffset + length, (byte) 0);
                return TAG_MISMATCH;
            }
            return fail(s, key);
        }
    }

    // ------------------------------------------------------------------------------------------ segments

    @Override
    public int encrypt(GcmKey key, byte[] iv, byte[] aad, MemorySegment in, MemorySegment out, MemorySegment tag) {
        int check = JdkGcmEngine.checkSegments(iv, in, out, tag);
        if (check != OK) {
            return check;
        }
        if (closed) {
            return ENGINE_CLOSED;
        }
        final ThreadState s = states.get();
        final int length = (int) in.byteSize();
        try {
            Object params = s.parameters(key, iv, aad, true);
            if (params == null) {
                return KEY_DESTROYED;
            }
            byte[] plain = s.stagingIn(length);
            byte[] sealed = s.stagingOut(length + TAG_BYTES);
            MemorySegment.copy(in, ValueLayout.JAVA_BYTE, 0, plain, 0, length);
            int n = s.seal(params, plain, 0, length, sealed, 0);
            if (n != length + TAG_BYTES) {
                return fail(s, key);
            }
            MemorySegment.copy(sealed, 0, out, ValueLayout.JAVA_BYTE, 0, length);
            MemorySegment.copy(sealed, length, tag, ValueLayout.JAVA_BYTE, 0, TAG_BYTES);
            return OK;
        } catch (Throwable t) {
            return fail(s, key);
        }
    }

    @Override
    public int decrypt(GcmKey key, byte[] iv, byte[] aad, MemorySegment in, MemorySegment out, MemorySegment tag) {
        int check = JdkGcmEngine.checkSegments(iv, in, out, tag);
        if (check != OK) {
            return check;
        }
        if (closed) {
            return ENGINE_CLOSED;
        }
        final ThreadState s = states.get();
        final int length = (int) in.byteSize();
        try {
            Object params = s.parameters(key, iv, aad, false);
            if (params == null) {
                return KEY_DESTROYED;
            }
            byte[] sealed = s.stagingIn(length + TAG_BYTES);
            byte[] plain = s.stagingOut(length);
            MemorySegment.copy(in, ValueLayout.JAVA_BYTE, 0, sealed, 0, length);
            MemorySegment.copy(tag, ValueLayout.JAVA_BYTE, 0, sealed, length, TAG_BYTES);
            int n = (int) processPacket.invokeExact(s.cipher, false, params, sealed, 0, length + TAG_BYTES, plain, 0);
            if (n != length) {
                return fail(s, key);
            }
            MemorySegment.copy(plain, 0, out, ValueLayout.JAVA_BYTE, 0, length);
            return OK;
        } catch (Throwable t) {
            if (isTagFailure(t)) {
                out.asSlice(0, length).fill((byte) 0);
                return TAG_MISMATCH;
            }
            return fail(s, key);
        }
    }

    private boolean isTagFailure(Throwable t) {
        if (!packetCipherException.isInstance(t)) {
            return false;
        }
        try {
            return "INVALID_CIPHERTEXT".equals(String.valueOf(exceptionReason.invoke(t)));
        } catch (Throwable e) {
            return false;
        }
    }

    private int fail(ThreadState s, GcmKey key) {
        s.forget();
        if (key.isDestroyed()) {
            return KEY_DESTROYED;
        }
        failures.increment();
        return ENGINE_FAILURE;
    }

    @Override
    public void close() {
        closed = true;
        for (ThreadState s : allStates) {
            s.scrub();
        }
        allStates.clear();
        try {
            loader.close();
        } catch (IOException ignored) {
            // nothing more to release
        }
    }

    @Override
    public String toString() {
        return "BcLtsGcmEngine[variant=" + nativeVariant + "]";
    }

    /** One thread's packet cipher and buffers; only the owning thread touches it, except close() once quiescent. */
    private final class ThreadState {
        final Object cipher;
        long keyId;
        byte[] keyBytes = new byte[0];
        Object keyParameter;
        /** Key id and IV of the last encryption, for BC's nonce-reuse guard (same idea as in JdkGcmEngine). */
        long lastEncryptKeyId;
        final byte[] lastEncryptIv = new byte[IV_BYTES];
        final byte[] scratchIv = new byte[IV_BYTES];
        final StagingBuffers staging = new StagingBuffers(0, 0);

        ThreadState(Object cipher) {
            this.cipher = cipher;
        }

        /** The packet parameters for this message, or null if the key is destroyed. */
        Object parameters(GcmKey key, byte[] iv, byte[] aad, boolean encrypt) throws Throwable {
            if (key.isDestroyed()) {
                return null;
            }
            if (keyParameter == null || key.id() != keyId) {
                Arrays.fill(keyBytes, (byte) 0);
                byte[] fresh = new byte[key.lengthBytes()];
                if (!key.copyTo(fresh, 0)) {
                    return null;
                }
                // KeyParameter keeps its own copy; zero ours at once and keep a handle on theirs to zero later.
                keyParameter = newKeyParameter.invoke(fresh);
                Arrays.fill(fresh, (byte) 0);
                keyBytes = (byte[]) keyParameter.getClass().getMethod("getKey").invoke(keyParameter);
                keyId = key.id();
            }
            if (encrypt) {
                if (key.id() == lastEncryptKeyId && Arrays.equals(iv, lastEncryptIv)) {
                    rearm(iv);
                }
                lastEncryptKeyId = key.id();
                System.arraycopy(iv, 0, lastEncryptIv, 0, IV_BYTES);
            }
            return newAeadParameters.invoke(keyParameter, TAG_BYTES * 8, iv, aad);
        }

        /** Encrypts one packet; if BC's nonce-reuse guard fires (same key bytes under another GcmKey), re-arms once. */
        int seal(Object params, byte[] in, int inOffset, int length, byte[] out, int outOffset) throws Throwable {
            try {
                return (int) processPacket.invokeExact(cipher, true, params, in, inOffset, length, out, outOffset);
            } catch (Throwable first) {
                if (!packetCipherException.isInstance(first) || isTagFailure(first)) {
                    throw first;
                }
                rearm(lastEncryptIv);
                return (int) processPacket.invokeExact(cipher, true, params, in, inOffset, length, out, outOffset);
            }
        }

        /** Encrypts an empty packet under a scratch nonce so that BC's "last nonce" differs from {@code iv}. */
        void rearm(byte[] iv) throws Throwable {
            System.arraycopy(iv, 0, scratchIv, 0, IV_BYTES);
            scratchIv[0] ^= (byte) 0xFF;
            Object rearm = newAeadParameters.invoke(keyParameter, TAG_BYTES * 8, scratchIv, (byte[]) null);
            byte[] sink = new byte[TAG_BYTES];
            int n = (int) processPacket.invokeExact(cipher, true, rearm, scratchIv, 0, 0, sink, 0);
            if (n != TAG_BYTES) {
                throw new IllegalStateException("re-arm failed");
            }
        }

        byte[] stagingIn(int bytes) {
            return staging.in(bytes);
        }

        byte[] stagingOut(int bytes) {
            return staging.out(bytes);
        }

        void forget() {
            lastEncryptKeyId = 0;
        }

        void scrub() {
            Arrays.fill(keyBytes, (byte) 0);
            keyParameter = null;
            staging.wipe();
        }
    }
}
