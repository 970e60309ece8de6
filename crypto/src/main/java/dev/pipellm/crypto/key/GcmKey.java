package dev.pipellm.crypto.key;

import javax.crypto.SecretKey;
import java.io.NotSerializableException;
import java.io.ObjectOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One AES key, held off-heap in memory this process allocated, zeroed on {@link #close()}.
 *
 * <p>Why off-heap: a heap {@code byte[]} can be copied by a compacting GC, leaving stale copies that nothing
 * can zero; a native segment never moves. The material is copied out only into the caller's buffer
 * ({@link #copyTo}) or, for the JDK, through {@link #asJdkKey()} whose {@code getEncoded()} hands SunJCE a fresh
 * copy that SunJCE itself zeroes when the cipher is next re-keyed.
 *
 * <p>Invariants: the key never appears in {@link #toString()}, in exceptions, or in logs (only its id and size
 * do); once {@link #close()} has returned, every read reports the key as destroyed. Reads racing with
 * {@code close()} either see the whole key or report it destroyed, never a partly zeroed key used silently:
 * a shared arena's close waits for in-flight accesses (a thread-local handshake) and fails later ones.
 *
 * <p>Thread-safety: any thread may read; {@code close()} is idempotent and may be called from any thread.
 */
public final class GcmKey implements AutoCloseable {

    private static final AtomicLong NEXT_ID = new AtomicLong(1);

    private final long id;
    private final int lengthBytes;
    private final Arena arena;
    private final MemorySegment material;
    private final JdkKeyView jdkView;
    /** Written once by close(); read on every use. */
    private volatile boolean destroyed;

    private GcmKey(int lengthBytes) {
        this.id = NEXT_ID.getAndIncrement();
        this.lengthBytes = lengthBytes;
        this.arena = Arena.ofShared();
        this.material = arena.allocate(lengthBytes);
        this.jdkView = new JdkKeyView(this);
    }

    /** Copies an AES key (16, 24 or 32 bytes) from {@code src[offset, offset+length)}. */
    public static GcmKey copyOf(byte[] src, int offset, int length) {
        checkLength(length);
        GcmKey key = new GcmKey(length);
        MemorySegment.copy(src, offset, key.material, ValueLayout.JAVA_BYTE, 0, length);
        return key;
    }

    /** Copies a whole array holding an AES key (16, 24 or 32 bytes). */
    public static GcmKey copyOf(byte[] src) {
        return copyOf(src, 0, src.length);
    }

    /** Copies an AES key (16, 24 or 32 bytes) from a segment, e.g. the driver's key in native memory. */
    public static GcmKey copyOf(MemorySegment src) {
        if (src.byteSize() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("AES key must be 16, 24 or 32 bytes, got " + src.byteSize());
        }
        int length = (int) src.byteSize();
        checkLength(length);
        GcmKey key = new GcmKey(length);
        MemorySegment.copy(src, 0, key.material, 0, length);
        return key;
    }

    private static void checkLength(int length) {
        if (length != 16 && length != 24 && length != 32) {
            throw new IllegalArgumentException("AES key must be 16, 24 or 32 bytes, got " + length);
        }
    }

    /** Process-unique id, safe to log; engines use it to notice a key change without comparing material. */
    public long id() {
        return id;
    }

    public int lengthBytes() {
        return lengthBytes;
    }

    public boolean isDestroyed() {
        return destroyed;
    }

    /**
     * Copies the key into {@code dst[offset, offset+lengthBytes())}.
     *
     * @return {@code true}, or {@code false} if the key is destroyed (then {@code dst} is left zeroed)
     */
    public boolean copyTo(byte[] dst, int offset) {
        if (destroyed) {
            return false;
        }
        try {
            MemorySegment.copy(material, ValueLayout.JAVA_BYTE, 0, dst, offset, lengthBytes);
        } catch (IllegalStateException closedMeanwhile) {
            java.util.Arrays.fill(dst, offset, offset + lengthBytes, (byte) 0);
            return false;
        }
        if (destroyed) {
            // close() may have zeroed the material while we copied: do not hand out a torn key.
            java.util.Arrays.fill(dst, offset, offset + lengthBytes, (byte) 0);
            return false;
        }
        return true;
    }

    /**
     * A {@link SecretKey} view for the JDK's Cipher. It holds no copy: each {@code getEncoded()} copies the live
     * material (or returns {@code null} once destroyed, which SunJCE rejects with an InvalidKeyException).
     */
    public SecretKey asJdkKey() {
        return jdkView;
    }

    /** Zeroes the material and frees it. Idempotent. */
    @Override
    public void close() {
        synchronized (this) {
            if (destroyed) {
                return;
            }
            destroyed = true;
            material.fill((byte) 0);
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "GcmKey[id=" + id + ", bits=" + lengthBytes * 8 + (destroyed ? ", destroyed]" : "]");
    }

    /** Never serializable (SecretKey extends Serializable): serializing it would write the key out. */
    private static final class JdkKeyView implements SecretKey {
        private static final long serialVersionUID = 1L;
        private final transient GcmKey key;

        JdkKeyView(GcmKey key) {
            this.key = key;
        }

        @Override
        public String getAlgorithm() {
            return "AES";
        }

        @Override
        public String getFormat() {
            return "RAW";
        }

        @Override
        public byte[] getEncoded() {
            byte[] copy = new byte[key.lengthBytes];
            return key.copyTo(copy, 0) ? copy : null;
        }

        @Override
        public boolean isDestroyed() {
            return key.isDestroyed();
        }

        @Override
        public void destroy() {
            key.close();
        }

        @Override
        public String toString() {
            return key.toString();
        }

        private void writeObject(ObjectOutputStream out) throws NotSerializableException {
            throw new NotSerializableException("GcmKey material is never serialized");
        }
    }
}
