package dev.pipellm.agent.evp;

import dev.pipellm.agent.config.Config;
import dev.pipellm.agent.config.FaultPoint;
import dev.pipellm.agent.config.Mode;
import dev.pipellm.agent.log.DistinctErrorLog;
import dev.pipellm.agent.stats.Counters;
import dev.pipellm.agent.stats.StatCounter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import dev.pipellm.agent.pipeline.Channel;
import dev.pipellm.agent.pipeline.Pipeline;
import dev.pipellm.agent.pipeline.Slot;
import dev.pipellm.crypto.gcm.StreamingGcm;
import javax.crypto.spec.SecretKeySpec;

/**
 * The EVP side of the bridge: what the agent does with each intercepted EVP call (shim_bridge.h).
 *
 * <h2>passthrough</h2>
 * Tracks which contexts are AES-256-GCM, counts a message per init that gives an IV
 * ({@code h2d_messages} when encrypting, {@code d2h_messages} when decrypting), returns
 * {@link #PASS} for everything.
 *
 * <h2>sync</h2>
 * Only the CUDA driver's calls get here (the shim classifies callers). For an AES-256-GCM context
 * whose init gives a 12-byte IV (key given now or earlier), once the agent's engine is warm
 * ({@link EngineWarmUp}; until then the message goes to OpenSSL, {@code cold_start_messages}), the
 * agent owns the message ({@link CtxState} AGENT, init answers {@link #OWNED}) and writes exactly
 * what OpenSSL 3 writes, call by call:
 * <ul>
 *   <li>Update: {@code inl} bytes at {@code out}, {@code *outl = inl}, returns 1 ({@code inl == 0}:
 *       {@code *outl = 0}, returns 1).</li>
 *   <li>Final: writes nothing, {@code *outl = 0}; encrypt returns 1; decrypt returns 1 only if the tag
 *       from {@code EVP_CTRL_GCM_SET_TAG} matches (compared in constant time over its length), else 0.
 *       Decrypted bytes are written at update time, as OpenSSL does: the caller must discard them when
 *       the final fails.</li>
 *   <li>{@code EVP_CTRL_GCM_GET_TAG} (0x10) after an encrypt final: writes {@code arg} (1..16) tag
 *       bytes, returns 1; otherwise returns 0 as OpenSSL does (before final, on a decrypt context, bad
 *       arg). {@code EVP_CTRL_GCM_SET_TAG} (0x11) on decrypt: the agent keeps the tag and also passes the
 *       call on (PL_PASS) so the real context has it for a replay. {@code EVP_CTRL_GCM_SET_IVLEN} (0x9)
 *       with 12: accepted and passed on; another length makes later messages go to OpenSSL.</li>
 * </ul>
 * Anything the agent does not emulate in the middle of its message (AAD updates with {@code out ==
 * NULL}, other ctrl types, a direction change, NULL {@code outl}, negative lengths, partially overlapping
 * buffers, a decrypt final without a tag) <b>hands the message over</b>: the message so far is
 * replayed into the real context and this and every later call of the message return PL_PASS.
 * Calls after the agent's final that OpenSSL would refuse (update, final) return 0.
 *
 * <h2>calls the agent does not emulate</h2>
 * Before the driver's other OpenSSL 3 entry points on a context (other init functions, copy,
 * get/set_params, reset, free) the shim calls {@link #drop}: the agent replays the message it owns
 * into the real context (hand-over) and/or forgets the context.
 *
 * <h2>failure</h2>
 * If the agent's own path throws (or {@code inject_fault} fires), the message <b>falls back</b>: the
 * real context is re-initialised with {@code EVP_aes_256_gcm()}, key and IV, the earlier updates of the
 * message are replayed through the real functions (their inputs are still valid inside the driver's
 * call), the tag is set again for decryption, and the current call returns PL_PASS so the shim calls
 * the real function: the caller gets OpenSSL's result. {@code fallbacks} counts these; one stderr line
 * per distinct error. With {@code fail_closed=1}, or when a replay is impossible (an in-place update
 * already overwrote its input, a real function is missing, the replay fails), the call returns 0 and
 * the rest of the message is refused ({@code refused_messages}). Never wrong bytes.
 *
 * <p>Allocation: passthrough calls and sync-mode lookups allocate nothing; a sync message allocates
 * inside SunJCE's {@code Cipher.init} (the parameter specs and the JDK's internal key copies), measured
 * in the tests and reported in docs/configuration.md.
 */
public final class EvpMessages {
    /** shim_bridge.h PL_PASS. */
    public static final int PASS = -1;
    /** shim_bridge.h PL_OWNED: evp_init's answer when the agent owns the message. */
    public static final int OWNED = 2;
    /** shim_bridge.h PL_ENC_CONTEXT: the enc argument of EVP_CipherUpdate/EVP_CipherFinal*. */
    public static final int ENC_CONTEXT = -1;
    /** shim_bridge.h pl_drop. */
    public static final int DROP_FORGET = 0;
    public static final int DROP_HANDOVER = 1;
    public static final int DROP_HANDOVER_FORGET = 2;
    /** shim_bridge.h pl_cipher_kind. */
    public static final int CIPHER_OTHER = 0;
    public static final int CIPHER_AES_256_GCM = 1;
    public static final int CIPHER_UNCHANGED = -1;
    /** OpenSSL ctrl types. */
    public static final int CTRL_GCM_SET_IVLEN = 0x9;
    public static final int CTRL_GCM_GET_TAG = 0x10;
    public static final int CTRL_GCM_SET_TAG = 0x11;

    private static final int REFUSED = 4;

    private final boolean sync;
    private final boolean failClosed;
    private final Counters counters;
    private final DistinctErrorLog errors;
    private final RealEvp real;
    private final CtxTable table;
    private final FaultPoint faultPoint;
    private final long faultNth;
    private final AtomicLong faultCalls = new AtomicLong();
    private final EngineWarmUp warmUp;
    /** pipellm mode: the speculative pipeline (null in the other modes). */
    private final Pipeline pipeline;

    public EvpMessages(Config config, Counters counters, DistinctErrorLog errors, RealEvp real, EngineWarmUp warmUp,
                       Pipeline pipeline) {
        this(config, counters, errors, real, warmUp, pipeline, CtxTable.DEFAULT_CAPACITY);
    }

    EvpMessages(Config config, Counters counters, DistinctErrorLog errors, RealEvp real, EngineWarmUp warmUp,
                Pipeline pipeline, int contexts) {
        this.sync = config.mode().agentCrypto();
        this.failClosed = config.failClosed();
        this.counters = counters;
        this.errors = errors;
        this.real = real;
        this.warmUp = warmUp;
        this.pipeline = pipeline;
        this.table = new CtxTable(contexts, counters);
        this.faultPoint = config.faultPoint();
        this.faultNth = config.faultNth();
    }

    /**
     * After the real init succeeded. Returns PL_PASS (OpenSSL has the message), {@link #OWNED} (the
     * agent has it), or 0 to make the init fail (fail_closed).
     */
    public int init(long ctx, int enc, int cipherKind, long key, long iv) {
        if (cipherKind == CIPHER_OTHER) {
            abandonSlot(table.get(ctx));
            table.remove(ctx);
            return PASS;
        }
        CtxState st;
        if (cipherKind == CIPHER_AES_256_GCM) {
            st = table.getOrAdd(ctx);
            if (st == null) {
                counters.increment(StatCounter.UNTRACKED_CONTEXTS);
                return PASS;
            }
            // a cipher given to init starts a fresh cipher context in OpenSSL 3: forget key and IV
            st.gcm = true;
            st.keyKnown = false;
            st.ivPending = false;
            st.ivLen = CtxState.DEFAULT_IV_BYTES;
        } else {
            st = table.get(ctx);
            if (st == null || !st.gcm) return PASS;
        }
        boolean encrypt = enc != 0;
        abandonSlot(st);
        st.state = CtxState.REAL;
        st.coldTimed = false;
        st.seq = 0;
        if (iv != 0) counters.increment(encrypt ? StatCounter.H2D_MESSAGES : StatCounter.D2H_MESSAGES);
        if (!sync) return PASS;

        if (key != 0) {
            NativeMemory.copyIn(key, st.keyIncoming, 0, CtxState.KEY_BYTES);
            if (!st.keyKnown || !Arrays.equals(st.key, st.keyIncoming)) {
                System.arraycopy(st.keyIncoming, 0, st.key, 0, CtxState.KEY_BYTES);
                st.keyChanged = true;
            }
            Arrays.fill(st.keyIncoming, (byte) 0);
            st.keyKnown = true;
        }
        if (iv != 0) {
            st.ivPending = st.ivLen == StreamingGcm.IV_BYTES;
            if (st.ivPending) NativeMemory.copyIn(iv, st.iv, 0, StreamingGcm.IV_BYTES);
        }
        if (!st.keyKnown || !st.ivPending) return PASS;
        if (pipeline != null && encrypt && startPipelineMessage(st, iv)) {
            st.ivPending = false;
            return OWNED;   // the fast path: the message comes from a ready slot
        }
        if (!warmUp.isWarm()) {
            // never slower than OpenSSL: until the agent's engine has proved faster, OpenSSL does it
            counters.increment(StatCounter.COLD_START_MESSAGES);
            st.ivPending = false;
            st.coldTimed = true;   // what OpenSSL takes for it is the warm-up's yardstick
            st.coldBytes = 0;
            return PASS;
        }

        st.startMessage(encrypt);
        st.ivPending = false;
        try {
            beginStream(st, encrypt);
            st.state = CtxState.AGENT;
            return OWNED;
        } catch (Throwable t) {
            // the real context holds exactly this init: the whole message can go to OpenSSL
            counters.increment(StatCounter.FALLBACKS);
            errors.record("evp_init", t);
            if (failClosed) {
                counters.increment(StatCounter.REFUSED_MESSAGES);
                st.state = REFUSED;
                return 0;
            }
            return PASS;
        }
    }

    /**
     * pipellm mode, an H2D message the driver starts: its channel (by key) and sequence, the IV kept
     * for the planner; true when a ready slot holds exactly this message (the state is then AGENT
     * with {@code st.slot} set, and nothing is computed until the updates come).
     */
    private boolean startPipelineMessage(CtxState st, long iv) {
        if (st.channel == null || st.keyChanged) {
            st.channel = pipeline.channelFor(st.key);
            if (st.channel == null) return false;
        }
        Channel ch = st.channel;
        st.seq = ch.nextMessage();
        st.msgBytes = 0;
        st.firstSrc = 0;
        st.pathNanos = 0;
        Slot slot = pipeline.messageStarted(ch, st.seq, iv);
        if (slot == null) return false;
        st.startMessage(true);
        st.slot = slot;
        st.state = CtxState.AGENT;
        return true;
    }

    /** A slot claimed by a message that will not finish on it goes back (never committed further). */
    private void abandonSlot(CtxState st) {
        if (st == null || st.slot == null) return;
        Slot s = st.slot;
        st.slot = null;
        pipeline.release(s, false, StatCounter.RELINQUISHED_SLOTS);
    }

    /**
     * A fast-path message diverges from its slot (another source, length or content): the slow path
     * takes over from here. The bytes already written are the slot's, which are exactly OpenSSL's for
     * that prefix (same key, IV and, as compared, plaintext); the stream is started and fed the
     * prefix from the slot's snapshot (a write-tracked slot has none: its ciphertext prefix is
     * decrypted, AES-CTR from GCM's first counter block), then the slot is released. Its ciphertext beyond the prefix
     * never left private memory.
     */
    private void divergeFromSlot(CtxState st, boolean stale) throws Exception {
        Slot s = st.slot;
        beginStream(st, true);
        Staging g = Staging.get();
        int prefix = st.msgBytes;
        javax.crypto.Cipher ctr = prefix > 0 && !s.hasSnapshot() ? g.prefixCipher(st.keySpec, s.iv()) : null;
        for (int pos = 0; pos < prefix; ) {
            int n = Math.min(Staging.CHUNK_BYTES, prefix - pos);
            if (ctr == null) {
                s.snapshotTo(pos, g.in, n);
            } else {
                // a write-tracked slot kept no snapshot: its committed prefix is its ciphertext's plaintext
                s.cipherTo(pos, g.out, n);
                ctr.update(g.out, 0, n, g.in, 0);
            }
            st.stream.update(g.in, 0, n, g.out, 0);
            pos += n;
        }
        st.slot = null;
        pipeline.release(s, false, stale ? StatCounter.STALE_SLOTS : StatCounter.RELINQUISHED_SLOTS);
        counters.increment(StatCounter.DIVERGED_MESSAGES);
    }

    /** Starts the context's stream on its key and IV (a new JDK key object only when the key changed). */
    private static void beginStream(CtxState st, boolean encrypt) throws Exception {
        if (st.stream == null) st.stream = new StreamingGcm();
        if (st.keyChanged || st.keySpec == null) st.keySpec = new SecretKeySpec(st.key, "AES");
        st.keyChanged = false;
        st.stream.begin(st.keySpec, st.iv, encrypt);
    }

    /** The driver finished a pipeline message: tell the planner (whichever path did it). */
    private void pipelineMessageDone(CtxState st, boolean fast) {
        if (st.seq == 0 || st.channel == null) return;
        pipeline.messageFinished(st.channel, st.seq, st.firstSrc, st.msgBytes);
        pipeline.cryptoTime(st.msgBytes, st.pathNanos);
        counters.add(fast ? StatCounter.COMMIT_NS : StatCounter.SLOW_PATH_NS, st.pathNanos);
        st.seq = 0;
    }

    private static void noteUpdate(CtxState st, long in, int inl) {
        if (st.msgBytes == 0) st.firstSrc = in;
        st.msgBytes += inl;
    }

    /** {@link #answerUnlessOwned}: the agent owns the context's current message. */
    private static final int AGENT_OWNS = Integer.MIN_VALUE;

    /**
     * What an update or final on {@code st} answers when the agent does not own its message: PL_PASS for
     * an unknown or OpenSSL-owned context, 0 (nothing written) after the agent finished or refused the
     * message, as OpenSSL would; {@link #AGENT_OWNS} when the agent owns it.
     */
    private static int answerUnlessOwned(CtxState st, long outl) {
        if (st == null) return PASS;
        int state = st.state;
        if (state == CtxState.AGENT) return AGENT_OWNS;
        if (state == CtxState.AGENT_DONE || state == REFUSED) {
            if (outl != 0) NativeMemory.putInt(outl, 0);
            return 0;
        }
        return PASS;
    }

    public int update(long ctx, int enc, long out, long outl, long in, int inl) {
        if (!sync) return PASS;
        CtxState st = table.get(ctx);
        if (st != null && st.seq != 0 && st.state == CtxState.REAL && out != 0 && inl > 0) noteUpdate(st, in, inl);
        if (st != null && st.coldTimed && st.state == CtxState.REAL) {
            if (out != 0 && inl > 0) {   // the real update runs right after this returns
                if (st.coldBytes == 0) st.coldStartNanos = System.nanoTime();
                st.coldBytes += inl;
            }
            return PASS;
        }
        int notOwned = answerUnlessOwned(st, outl);
        if (notOwned != AGENT_OWNS) return notOwned;
        boolean encrypt = enc == ENC_CONTEXT ? st.enc : enc != 0;
        if (encrypt != st.enc || outl == 0 || inl < 0 || (out == 0 && inl > 0)
                || partiallyOverlapping(out, in, inl)) {
            return handOver(st, false);
        }
        if (inl == 0) {
            NativeMemory.putInt(outl, 0);
            return 1;
        }
        long t0 = st.seq != 0 ? System.nanoTime() : 0;
        try {
            if (st.slot != null) {
                Slot s = st.slot;
                if (s.matchesUpdate(st.msgBytes, in, inl, pipeline.validator)) {
                    if (out == in) st.replayable = false;
                    s.commitTo(st.msgBytes, out, inl);
                    NativeMemory.putInt(outl, inl);
                    st.recordUpdate(in, out, inl);
                    noteUpdate(st, in, inl);
                    st.pathNanos += System.nanoTime() - t0;
                    return 1;
                }
                if (!warmUp.isWarm()) return handOver(st, false);   // cold: OpenSSL finishes the message
                // same place, other bytes: the plaintext changed since the slot was made
                divergeFromSlot(st, s.length() >= st.msgBytes + inl && s.sourceAddressIs(st.msgBytes, in));
            }
            if (out == in) st.replayable = false;
            if (faultPoint == FaultPoint.EVP_UPDATE) maybeFault();
            transform(st.stream, in, out, inl);
            NativeMemory.putInt(outl, inl);
            st.recordUpdate(in, out, inl);
            if (st.seq != 0) {
                noteUpdate(st, in, inl);
                st.pathNanos += System.nanoTime() - t0;
            }
            return 1;
        } catch (Throwable t) {
            return fallBack(st, "evp_update", t);
        }
    }

    /**
     * The agent's work on one update: {@code inl} native bytes at {@code in} through {@code stream}
     * into {@code out}, staged through this thread's heap buffers (SunJCE's fast path). The warm-up
     * measures exactly this.
     */
    static void transform(StreamingGcm stream, long in, long out, int inl) {
        Staging s = Staging.get();
        for (int pos = 0; pos < inl; ) {
            int n = Math.min(Staging.CHUNK_BYTES, inl - pos);
            NativeMemory.copyIn(in + pos, s.in, 0, n);
            stream.update(s.in, 0, n, s.out, 0);
            NativeMemory.copyOut(s.out, 0, out + pos, n);
            pos += n;
        }
    }

    public int finish(long ctx, int enc, long out, long outl) {
        if (!sync) return PASS;
        CtxState st = table.get(ctx);
        if (st != null && st.seq != 0 && st.state == CtxState.REAL) pipelineMessageDone(st, false);
        if (st != null && st.coldTimed && st.state == CtxState.REAL) {
            st.coldTimed = false;
            if (st.coldBytes > 0) {
                long ns = System.nanoTime() - st.coldStartNanos;
                warmUp.observeOpenSsl(st.coldBytes, ns);
                if (pipeline != null && st.enc) pipeline.cryptoTime(st.coldBytes, ns);
            }
            return PASS;
        }
        int notOwned = answerUnlessOwned(st, outl);
        if (notOwned != AGENT_OWNS) return notOwned;
        boolean encrypt = enc == ENC_CONTEXT ? st.enc : enc != 0;
        if (encrypt != st.enc || outl == 0 || (!encrypt && st.expectedTagLen == 0)) return handOver(st, false);
        long t0 = st.seq != 0 ? System.nanoTime() : 0;
        try {
            if (st.slot != null) {
                Slot slot = st.slot;
                if (st.msgBytes == slot.length()) {
                    slot.tagTo(st.tag);
                    st.slot = null;
                    pipeline.release(slot, true, null);
                    NativeMemory.putInt(outl, 0);
                    st.state = CtxState.AGENT_DONE;
                    counters.increment(StatCounter.FAST_PATH_MESSAGES);
                    st.pathNanos += System.nanoTime() - t0;
                    pipelineMessageDone(st, true);
                    return 1;
                }
                if (!warmUp.isWarm()) return handOver(st, false);
                divergeFromSlot(st, false);   // the message is shorter than the slot
            }
            if (faultPoint == FaultPoint.EVP_FINAL) maybeFault();
            Staging s = Staging.get();
            NativeMemory.putInt(outl, 0);
            st.state = CtxState.AGENT_DONE;
            counters.increment(StatCounter.SLOW_PATH_MESSAGES);
            if (encrypt) {
                st.stream.finishEncrypt(s.tag);
                System.arraycopy(s.tag, 0, st.tag, 0, StreamingGcm.TAG_BYTES);
                counters.increment(StatCounter.AGENT_ENCRYPTED_MESSAGES);
                if (st.seq != 0) {
                    st.pathNanos += System.nanoTime() - t0;
                    pipelineMessageDone(st, false);
                }
                return 1;
            }
            counters.increment(StatCounter.AGENT_DECRYPTED_MESSAGES);
            boolean ok = st.stream.finishDecrypt(st.expectedTag, st.expectedTagLen);
            if (!ok) counters.increment(StatCounter.TAG_FAILURES);
            return ok ? 1 : 0;
        } catch (Throwable t) {
            return fallBack(st, "evp_final", t);
        }
    }

    public int ctrl(long ctx, int type, int arg, long ptr) {
        if (!sync) return PASS;
        CtxState st = table.get(ctx);
        if (st == null) return PASS;
        int state = st.state;
        switch (type) {
            case CTRL_GCM_SET_IVLEN -> {
                if (state == CtxState.AGENT && arg != StreamingGcm.IV_BYTES) {
                    int r = handOver(st, false);
                    if (r != PASS) return r;
                }
                if (arg > 0 && arg != st.ivLen) {
                    st.ivLen = arg;
                    st.ivPending = false;
                }
                return PASS;
            }
            case CTRL_GCM_GET_TAG -> {
                if (state == CtxState.AGENT_DONE) {
                    if (!st.enc || arg < 1 || arg > StreamingGcm.TAG_BYTES || ptr == 0) return 0;
                    NativeMemory.copyOut(st.tag, 0, ptr, arg);
                    return 1;
                }
                return state == CtxState.AGENT || state == REFUSED ? 0 : PASS;
            }
            case CTRL_GCM_SET_TAG -> {
                if (state == CtxState.AGENT && !st.enc && arg >= 1 && arg <= StreamingGcm.TAG_BYTES && ptr != 0) {
                    NativeMemory.copyIn(ptr, st.expectedTag, 0, arg);
                    st.expectedTagLen = arg;
                }
                return PASS;
            }
            default -> {
                if (state == CtxState.AGENT) return handOver(st, false);
                if (state == CtxState.AGENT_DONE) return handOver(st, true);
                return PASS;
            }
        }
    }

    /**
     * Before a driver call the agent does not emulate ({@code how}: {@link #DROP_FORGET},
     * {@link #DROP_HANDOVER}, {@link #DROP_HANDOVER_FORGET}). A hand-over replays the message the agent
     * owns (with its final, once the agent finished it) into the real context, so that OpenSSL's
     * answer to the call (the tag from get_params, a copy of the context) is what it would be without
     * PipeLLM; forgetting drops the state and zeroes the key. Returns PL_PASS, or 0 when a hand-over
     * is impossible and the call must fail.
     */
    public int drop(long ctx, int how) {
        CtxState st = table.get(ctx);
        if (st == null) return PASS;
        abandonSlot(st);   // a hand-over replays the recorded updates: OpenSSL rewrites the same prefix
        int r = PASS;
        if (how != DROP_FORGET && (st.state == CtxState.AGENT || st.state == CtxState.AGENT_DONE)) {
            r = handOver(st, st.state == CtxState.AGENT_DONE);
        } else if (how != DROP_FORGET && st.state == REFUSED) {
            r = 0; // the real context never had the refused message
        }
        if (how != DROP_HANDOVER) table.remove(ctx);
        return r;
    }

    /** Contexts currently tracked (tests). */
    public int trackedContexts() {
        return table.size();
    }

    private void maybeFault() {
        if (faultCalls.incrementAndGet() == faultNth) {
            throw new InjectedFaultException(faultPoint.key + ":" + faultNth);
        }
    }

    /** The agent's own path failed: replay into OpenSSL, or refuse. */
    private int fallBack(CtxState st, String where, Throwable t) {
        counters.increment(StatCounter.FALLBACKS);
        abandonSlot(st);
        errors.record(where, t);
        if (failClosed) return refuse(st);
        if (!st.replayable) {
            errors.record(where, "an in-place update already overwrote its input; the message cannot be replayed");
            return refuse(st);
        }
        if (!replay(st, false, where)) return refuse(st);
        st.state = CtxState.REAL;
        return PASS;
    }

    /** A call the agent does not emulate: give the message to OpenSSL from here on. */
    private int handOver(CtxState st, boolean includeFinal) {
        counters.increment(StatCounter.HANDED_OVER_MESSAGES);
        abandonSlot(st);
        if (st.updates == 0 && !includeFinal) {
            st.state = CtxState.REAL; // the real context holds exactly this message's init
            return PASS;
        }
        if (!st.replayable || !replay(st, includeFinal, "hand-over")) return refuse(st);
        st.state = CtxState.REAL;
        return PASS;
    }

    private int refuse(CtxState st) {
        counters.increment(StatCounter.REFUSED_MESSAGES);
        st.state = REFUSED;
        return 0;
    }

    /**
     * Re-runs this message so far through the real functions: init (cipher, key, IV), every recorded
     * update with its original pointers, the decrypt tag, and optionally the final.
     */
    private boolean replay(CtxState st, boolean includeFinal, String where) {
        if (real == null) {
            errors.record(where, "no real OpenSSL table; cannot replay");
            return false;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = RealEvp.scratch(arena);
            long base = m.address();
            long keyAt = base, ivAt = base + 32, tagAt = base + 48, outlAt = base + 64, finalAt = base + 80;
            MemorySegment.copy(st.key, 0, m, ValueLayout.JAVA_BYTE, 0, CtxState.KEY_BYTES);
            MemorySegment.copy(st.iv, 0, m, ValueLayout.JAVA_BYTE, 32, StreamingGcm.IV_BYTES);
            try {
                int r = real.initAes256Gcm(st.enc, st.ctx, keyAt, ivAt);
                m.asSlice(0, CtxState.KEY_BYTES).fill((byte) 0);
                if (r != 1) return replayFailed(where, "init", r);
                for (int i = 0; i < st.updates; i++) {
                    r = real.update(st.enc, st.ctx, st.updOut[i], outlAt, st.updIn[i], st.updLen[i]);
                    if (r != 1) return replayFailed(where, "update", r);
                }
                if (!st.enc && st.expectedTagLen > 0) {
                    MemorySegment.copy(st.expectedTag, 0, m, ValueLayout.JAVA_BYTE, 48, st.expectedTagLen);
                    r = real.ctrl(st.ctx, CTRL_GCM_SET_TAG, st.expectedTagLen, tagAt);
                    if (r != 1) return replayFailed(where, "set tag", r);
                }
                if (includeFinal) {
                    r = real.finish(st.enc, st.ctx, finalAt, outlAt);
                    if (st.enc && r != 1) return replayFailed(where, "final", r);
                }
                return true;
            } finally {
                m.fill((byte) 0);
            }
        } catch (Throwable t) {
            errors.record(where + " replay", t);
            return false;
        }
    }

    private boolean replayFailed(String where, String step, int r) {
        errors.record(where + " replay", r == RealEvp.NO_REAL
                ? "the real OpenSSL function for " + step + " is not in the shim's table"
                : "the real OpenSSL " + step + " returned " + r);
        return false;
    }

    private static boolean partiallyOverlapping(long out, long in, int inl) {
        long diff = out - in;
        return inl > 0 && diff != 0 && diff < inl && diff > -inl;
    }

    /** TEST ONLY: thrown by {@code inject_fault}. */
    static final class InjectedFaultException extends RuntimeException {
        InjectedFaultException(String what) {
            super("inject_fault=" + what + " (test only)", null, false, false);
        }
    }
}
