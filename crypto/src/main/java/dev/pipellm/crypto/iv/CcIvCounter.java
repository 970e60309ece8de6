package dev.pipellm.crypto.iv;

/**
 * The driver's side of the IV model: the IV state of one channel direction, as NVIDIA's CSL keeps it
 * ({@code ccslIncrementCounter}, {@code incrementChannelCounter}). simgpu-style drivers and tests use it as
 * ground truth; the agent never sees its state, only the IVs it emits (see {@link IvSequenceLearner}).
 *
 * <p>Rules: {@link #next} adds 1 to the 32-bit message counter, then emits
 * {@code (message, channel) XOR mask}; so the first message after construction or a rotation uses counter 1.
 * The counter never wraps silently: the message after counter {@code 0xFFFFFFFF} is preceded by an automatic IV
 * rotation, as CSL refuses to overflow and the driver must rotate first. Not thread-safe (one per channel
 * direction, driven by the thread that encrypts). Allocation-free.
 */
public final class CcIvCounter {

    private int maskMessage;
    private long maskChannel;
    /** Last counter used (unsigned 32-bit); 0 means none used since the last restart. */
    private int message;
    private long channel;

    /**
     * @param maskMessage mask over bytes 0-3 (as a little-endian int)
     * @param maskChannel mask over bytes 4-11 (as a little-endian long)
     * @param channel     the channel counter's current value
     * @param message     the last message counter used (0 if the channel is fresh)
     */
    public CcIvCounter(int maskMessage, long maskChannel, long channel, int message) {
        this.maskMessage = maskMessage;
        this.maskChannel = maskChannel;
        this.channel = channel;
        this.message = message;
    }

    /** Consumes one IV and writes it into {@code iv[0, 12)}. */
    public void next(byte[] iv) {
        if (message == -1) {
            rotateIv();
        }
        message++;
        CcIvLayout.write(iv, message ^ maskMessage, channel ^ maskChannel);
    }

    /** Consumes {@code count} IVs without emitting them (messages the observer does not see). */
    public void skip(long count) {
        for (long i = 0; i < count; i++) {
            if (message == -1) {
                rotateIv();
            }
            message++;
        }
    }

    /** IV rotation: channel counter + 1, message counter restarts; same key and mask. */
    public void rotateIv() {
        channel++;
        message = 0;
    }

    /** Key rotation: new key and mask, channel counter + 1, message counter restarts. */
    public void rotateKey(int newMaskMessage, long newMaskChannel) {
        maskMessage = newMaskMessage;
        maskChannel = newMaskChannel;
        rotateIv();
    }

    /** The last message counter used (unsigned). */
    public int messageCounter() {
        return message;
    }

    public long channelCounter() {
        return channel;
    }

    @Override
    public String toString() {
        // The mask is secret: state only the counters.
        return "CcIvCounter[channel=" + channel + ", message=" + Integer.toUnsignedString(message) + "]";
    }
}
