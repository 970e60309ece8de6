package dev.pipellm.crypto.gcm;

import dev.pipellm.crypto.key.GcmKey;

import java.lang.foreign.MemorySegment;

/**
 * AES-GCM for one message at a time: 96-bit IV, 16-byte tag, optional AAD, over heap arrays or
 * {@link MemorySegment}s.
 *
 * <p><b>Contract.</b>
 * <ul>
 *   <li>Implementations are thread-safe: each thread gets its own cipher state, created on its first call
 *       and reused for every later message, so a warmed-up thread does no per-message set-up beyond what the
 *       underlying library does inside its own init.</li>
 *   <li>Hot-path methods never throw for bad input or a failed tag: they return {@link #OK} or one of the
 *       negative sentinels below. A {@link NullPointerException} for a null array is the only exception.</li>
 *   <li>The IV is exactly the 12 bytes of {@code iv} ({@code iv.length == 12}); any other length is refused
 *       with {@link #UNSUPPORTED_IV_LENGTH} and nothing is computed, so a 16-byte IV can never be silently
 *       truncated to its first 12 bytes. Tags are always {@value #TAG_BYTES} bytes.</li>
 *   <li>Input and output may be the same region (exact in-place), but must not partially overlap.</li>
 *   <li>The engine does not enforce IV uniqueness: it will encrypt twice under the same (key, IV), because
 *       the agent legitimately re-encrypts a slot whose ciphertext never left private memory
 *       (ARCHITECTURE.md section 5). Never exposing an IV twice is the IV planner's invariant.</li>
 *   <li>On {@link #TAG_MISMATCH} no plaintext is released: the output range is zero-filled.</li>
 * </ul>
 */
public interface GcmEngine extends AutoCloseable {

    /** Bytes in an IV: the 96-bit IV of NVIDIA CC (and the only size GCM computes without GHASHing the IV). */
    int IV_BYTES = 12;
    /** Bytes in an authentication tag. */
    int TAG_BYTES = 16;

    /** The operation completed; for decryption the tag verified. */
    int OK = 0;
    /** Decryption only: the tag did not verify; the output range was zero-filled. */
    int TAG_MISMATCH = -1;
    /** The IV array is not exactly {@value #IV_BYTES} bytes long; nothing was computed. */
    int UNSUPPORTED_IV_LENGTH = -2;
    /** Offsets, lengths or buffer sizes are out of range, or buffers partially overlap; nothing was computed. */
    int INVALID_ARGUMENT = -3;
    /** The key was destroyed (rotated out or closed) before or during the call; output is undefined. */
    int KEY_DESTROYED = -4;
    /** The engine was closed. */
    int ENGINE_CLOSED = -5;
    /** The underlying library failed unexpectedly; counted in {@link #failureCount()}; output is undefined. */
    int ENGINE_FAILURE = -6;

    /** Stable short name for reports and stats, e.g. {@code jdk-sunjce} or {@code bc-lts-native}. */
    String name();

    /**
     * Encrypts {@code in[inOffset, inOffset+length)} into {@code out[outOffset, outOffset+length)} and writes the
     * tag to {@code tag[tagOffset, tagOffset+16)}.
     *
     * @param aad additional authenticated data, or {@code null} for none
     * @return {@link #OK} or a negative sentinel
     */
    int encrypt(GcmKey key, byte[] iv, byte[] aad, byte[] in, int inOffset, int length,
                byte[] out, int outOffset, byte[] tag, int tagOffset);

    /**
     * Decrypts and verifies {@code in[inOffset, inOffset+length)} against {@code tag[tagOffset, tagOffset+16)}.
     *
     * @return {@link #OK}, {@link #TAG_MISMATCH} or another negative sentinel
     */
    int decrypt(GcmKey key, byte[] iv, byte[] aad, byte[] in, int inOffset, int length,
                byte[] out, int outOffset, byte[] tag, int tagOffset);

    /**
     * Encrypts all of {@code in} into the first {@code in.byteSize()} bytes of {@code out} and the tag into the
     * first 16 bytes of {@code tag}. Segments may be off-heap (the usual case) or heap-backed.
     */
    int encrypt(GcmKey key, byte[] iv, byte[] aad, MemorySegment in, MemorySegment out, MemorySegment tag);

    /** Decrypts and verifies all of {@code in} into the first {@code in.byteSize()} bytes of {@code out}. */
    int decrypt(GcmKey key, byte[] iv, byte[] aad, MemorySegment in, MemorySegment out, MemorySegment tag);

    /** Unexpected library failures since creation (not tag mismatches, not argument errors). */
    long failureCount();

    /**
     * Scrubs what the engine can reach of per-thread key material and staging buffers and refuses further use.
     * Call only once no thread is inside an engine method.
     */
    @Override
    void close();

    /** Human-readable name of a status code, for logs and test messages (never on the hot path). */
    static String statusName(int status) {
        return switch (status) {
            case OK -> "OK";
            case TAG_MISMATCH -> "TAG_MISMATCH";
            case UNSUPPORTED_IV_LENGTH -> "UNSUPPORTED_IV_LENGTH";
            case INVALID_ARGUMENT -> "INVALID_ARGUMENT";
            case KEY_DESTROYED -> "KEY_DESTROYED";
            case ENGINE_CLOSED -> "ENGINE_CLOSED";
            case ENGINE_FAILURE -> "ENGINE_FAILURE";
            default -> "UNKNOWN(" + status + ")";
        };
    }
}
