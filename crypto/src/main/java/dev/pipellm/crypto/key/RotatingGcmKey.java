package dev.pipellm.crypto.key;

/**
 * The current key of one channel direction. {@link #rotate} installs the next key and zeroes the one it
 * replaces; {@link #close()} zeroes the current one.
 *
 * <p>Why zero at once: after a rotation ciphertext made under the old key is worthless to the CE, and keeping
 * the old key only widens what a memory disclosure would reveal. A worker still encrypting under the old key
 * gets {@code GcmEngine.KEY_DESTROYED} (or finishes with a copy its cipher already took) and its slot is
 * dropped, as ARCHITECTURE.md section 5 requires for any slot made under an old key.
 *
 * <p>Memory order: {@code current} is volatile; rotate() publishes the new key before it zeroes the old one, so
 * a reader that sees the new key never sees a destroyed one in its place.
 */
public final class RotatingGcmKey implements AutoCloseable {

    private volatile GcmKey current;
    /** Incremented by each rotation; guarded by this. */
    private long version;

    public RotatingGcmKey(GcmKey initial) {
        if (initial == null || initial.isDestroyed()) {
            throw new IllegalArgumentException("initial key must be live");
        }
        this.current = initial;
    }

    /** The live key, or {@code null} once closed. */
    public GcmKey current() {
        return current;
    }

    /** Number of rotations so far (0 for the initial key). */
    public synchronized long version() {
        return version;
    }

    /**
     * Makes {@code next} current and zeroes the previous key.
     *
     * @return the new version
     */
    public synchronized long rotate(GcmKey next) {
        if (next == null || next.isDestroyed()) {
            throw new IllegalArgumentException("next key must be live");
        }
        GcmKey previous = current;
        if (previous == null) {
            throw new IllegalStateException("closed");
        }
        if (previous == next) {
            throw new IllegalArgumentException("rotation to the same key");
        }
        current = next;
        previous.close();
        return ++version;
    }

    @Override
    public synchronized void close() {
        GcmKey previous = current;
        current = null;
        if (previous != null) {
            previous.close();
        }
    }

    @Override
    public String toString() {
        GcmKey k = current;
        return "RotatingGcmKey[version=" + version + ", current=" + (k == null ? "closed" : k.toString()) + "]";
    }
}
