package dev.pipellm.crypto.iv;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * Byte layout of the 96-bit AES-GCM IV that NVIDIA confidential computing uses on a CE channel
 * (research/cc.md 1.4, {@code ccsl.c}):
 *
 * <pre>
 *  byte   0   1   2   3   4   5   6   7   8   9  10  11
 *       +---------------+-------------------------------+
 *       | message ctr   |        channel counter        |
 *       | uint32, LE    |        uint64, LE             |
 *       +---------------+-------------------------------+
 *   XOR | mask[0..3]    |        mask[4..11]            |   96-bit secret mask, one per key
 *       +---------------+-------------------------------+
 *   =     the IV handed to EVP_EncryptInit_ex
 * </pre>
 *
 * The driver adds 1 to the message counter <em>before</em> each encryption (the first message after a restart
 * uses 1). The channel counter goes up by 1 when the channel is given the key (key rotation, new mask too) or its
 * IVs are rotated; the message counter then restarts.
 *
 * <p>This class only reads and writes the two fields of an IV as it appears on the wire, i.e. already XORed with
 * the mask: we call those the message <em>field</em> and channel <em>field</em>. Allocation-free.
 */
public final class CcIvLayout {

    /** Bytes in the IV. */
    public static final int IV_BYTES = 12;
    /** Offset of the 32-bit little-endian message counter. */
    public static final int MESSAGE_COUNTER_OFFSET = 0;
    /** Offset of the 64-bit little-endian channel counter. */
    public static final int CHANNEL_COUNTER_OFFSET = 4;

    private static final VarHandle INT_LE =
            MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG_LE =
            MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private CcIvLayout() {
    }

    /** Bytes 0-3 as a little-endian int (the masked message counter). */
    public static int messageField(byte[] iv) {
        return (int) INT_LE.get(iv, MESSAGE_COUNTER_OFFSET);
    }

    /** Bytes 4-11 as a little-endian long (the masked channel counter). */
    public static long channelField(byte[] iv) {
        return (long) LONG_LE.get(iv, CHANNEL_COUNTER_OFFSET);
    }

    /** Writes both fields into {@code iv[0, 12)}. */
    public static void write(byte[] iv, int messageField, long channelField) {
        INT_LE.set(iv, MESSAGE_COUNTER_OFFSET, messageField);
        LONG_LE.set(iv, CHANNEL_COUNTER_OFFSET, channelField);
    }
}
