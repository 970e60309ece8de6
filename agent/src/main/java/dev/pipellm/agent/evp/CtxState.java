package dev.pipellm.agent.evp;

import dev.pipellm.crypto.gcm.StreamingGcm;
import java.util.Arrays;
import javax.crypto.spec.SecretKeySpec;

/**
 * What the agent knows about one {@code EVP_CIPHER_CTX}, and the message in flight on it.
 *
 * <pre>
 *   message state machine (per context)
 *
 *   IDLE --init(key known, IV given, 12-byte IV, GCM)--> AGENT --final--> AGENT_DONE
 *     |                                                   |  \                |
 *     +--init(anything else)--> REAL                      |   +--own path fails / unsupported call:
 *                                                          |      replay into OpenSSL--> REAL
 *   every init restarts the machine; evp_drop (forget) returns the state to the pool (key zeroed)
 * </pre>
 * AGENT: the agent writes every output of this message; the real context holds only the init.
 * REAL: every call of this message goes to the real OpenSSL (PL_PASS).
 * AGENT_DONE: the agent finished the message; GET_TAG is answered from {@link #tag}.
 *
 * <p>Threads: OpenSSL contexts are not thread-safe, so the driver uses one context from one thread at a
 * time; its own lock (or thread confinement) orders these plain fields between calls. Only
 * {@link CtxTable} touches {@link #ctx} and the pool links, under its lock.
 */
final class CtxState {
    static final int IDLE = 0;
    static final int AGENT = 1;
    static final int AGENT_DONE = 2;
    static final int REAL = 3;

    static final int KEY_BYTES = 32;
    static final int DEFAULT_IV_BYTES = 12;

    /** The EVP_CIPHER_CTX address (table key); 0 while pooled. */
    long ctx;
    /** {@link CtxTable}'s clock at the last lookup (under its lock). */
    long lastUse;
    /** The context's cipher is AES-256-GCM. */
    boolean gcm;
    boolean keyKnown;
    /** The key differs from the one the {@link #stream} was last armed with. */
    boolean keyChanged;
    final byte[] key = new byte[KEY_BYTES];
    final byte[] keyIncoming = new byte[KEY_BYTES];
    /** An IV was set since the last message started. */
    boolean ivPending;
    int ivLen = DEFAULT_IV_BYTES;
    final byte[] iv = new byte[StreamingGcm.IV_BYTES];

    int state = IDLE;
    /** Direction of the current message (1 encrypt). */
    boolean enc;
    /** False once an in-place update ran: the input of earlier updates is gone, no replay possible. */
    boolean replayable;
    /** Decrypt: the tag set by EVP_CTRL_GCM_SET_TAG for this message. */
    final byte[] expectedTag = new byte[StreamingGcm.TAG_BYTES];
    int expectedTagLen;
    /** Encrypt: the tag computed at final. */
    final byte[] tag = new byte[StreamingGcm.TAG_BYTES];

    /** Updates of the current message (in, out, inl), for a replay. Grow only when needed. */
    long[] updIn = new long[16];
    long[] updOut = new long[16];
    int[] updLen = new int[16];
    int updates;

    /** A message left to OpenSSL while the agent is cold, timed for the warm-up (see EvpMessages). */
    boolean coldTimed;
    long coldStartNanos;
    long coldBytes;

    /** pipellm mode, H2D: the message's channel (kept while the key stays) and sequence on it (0: none). */
    dev.pipellm.agent.pipeline.Channel channel;
    long seq;
    /** The slot this message is committed from (fast path), or null (slow path, or not the agent's). */
    dev.pipellm.agent.pipeline.Slot slot;
    /** Bytes of the message so far (committed or not) and the source of its first update. */
    int msgBytes;
    long firstSrc;
    /** Nanoseconds spent in the agent's calls of this message. */
    long pathNanos;

    /** Created on the first message the agent handles on this pooled state, then kept. */
    StreamingGcm stream;
    /** The JDK key object of {@link #key}: made anew when the key changes, never mutated (StreamingGcm keys by identity). */
    SecretKeySpec keySpec;

    void recordUpdate(long in, long out, int inl) {
        if (updates == updLen.length) {
            int n = updates * 2;
            updIn = Arrays.copyOf(updIn, n);
            updOut = Arrays.copyOf(updOut, n);
            updLen = Arrays.copyOf(updLen, n);
        }
        updIn[updates] = in;
        updOut[updates] = out;
        updLen[updates] = inl;
        updates++;
    }

    void startMessage(boolean encrypt) {
        enc = encrypt;
        updates = 0;
        replayable = true;
        expectedTagLen = 0;
        Arrays.fill(expectedTag, (byte) 0);
        Arrays.fill(tag, (byte) 0);
    }

    /** Forgets the key material and the message (state back to the pool). */
    void wipe() {
        ctx = 0;
        gcm = false;
        channel = null;
        seq = 0;
        slot = null;
        keyKnown = false;
        keyChanged = false;
        Arrays.fill(key, (byte) 0);
        Arrays.fill(keyIncoming, (byte) 0);
        ivPending = false;
        ivLen = DEFAULT_IV_BYTES;
        Arrays.fill(iv, (byte) 0);
        state = IDLE;
        coldTimed = false;
        startMessage(false);
        if (stream != null) stream.wipe();
        keySpec = null;
    }
}
