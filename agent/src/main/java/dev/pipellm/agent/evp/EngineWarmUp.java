package dev.pipellm.agent.evp;

import dev.pipellm.agent.log.AgentLog;
import dev.pipellm.crypto.gcm.StreamingGcm;
import java.lang.foreign.Arena;
import javax.crypto.spec.SecretKeySpec;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;

/**
 * Decides when the agent's own AES-GCM may take the driver's messages: PipeLLM must never be slower
 * than OpenSSL, cold start included (ARCHITECTURE.md section 6, invariant 8).
 *
 * <p>SunJCE's AES-CTR and GCM intrinsics run only from C2-compiled callers (java-stack.md section 1):
 * a fresh agent encrypts at ~0.04-0.1 GB/s until the JIT has seen enough calls, against ~2.5-6 GB/s
 * for OpenSSL. So until {@link #isWarm()}, {@link EvpMessages} leaves every new message to the real
 * OpenSSL ({@code cold_start_messages}).
 *
 * <p>A background thread ({@code pipellm-warmup}) exercises the agent's exact per-update path
 * ({@link EvpMessages#transform}) on 64 KiB messages under a random throw-away key, then times it
 * (best of {@link #SAMPLES}) against the real OpenSSL's speed on the driver's own cold messages,
 * which {@link EvpMessages} measures as OpenSSL does them ({@link #observeOpenSsl}); the agent
 * becomes warm once it is faster. The warm-up never calls OpenSSL itself: its own calls would race
 * OpenSSL's exit-time cleanup, which the driver's calls are protected from. The warm-up must not take CPU from the copies it is meant to speed up (measured
 * on the 2-vCPU development VM: a warm-up at normal priority made the first seconds of copies 20-30%
 * slower than without PipeLLM, even in SCHED_IDLE, since hyperthreads share the AES units). So it
 * works only while the driver is quiet: in slices of {@link #SLICE_NANOS}, each one only if no driver
 * message started since the last one ({@link #quiet}), {@link #DUTY_PERCENT}% of the wall time at
 * most, in Linux's SCHED_IDLE class ({@link IdleScheduling}). A process that copies without pause
 * therefore stays on OpenSSL, which is what "never slower" asks. After {@link #BUDGET_NANOS} of
 * exercise compared without the agent winning (or three times that without any driver message to
 * compare with), OpenSSL keeps the messages for the life of the process (an info line says which).
 * Nothing produced here leaves the thread.
 *
 * <p>Thread-safety: {@link #warm} is written by the warm-up thread, read by any thread (volatile:
 * a message sees either state; both are correct).
 */
public final class EngineWarmUp {
    static final int MESSAGE_BYTES = 64 << 10;
    /** Exercise per round (then the agent and OpenSSL are timed). */
    static final long ROUND_NANOS = 400_000_000L;
    /** Exercise in all before giving up. */
    static final long BUDGET_NANOS = 10_000_000_000L;
    static final int SAMPLES = 3;
    static final long SLICE_NANOS = 20_000_000L;
    static final int DUTY_PERCENT = 25;
    static final int MESSAGES_PER_SAMPLE = 16;

    /** What the warm-up runs and times; the real one below, a fake in tests. */
    interface Bench extends AutoCloseable {
        /** Runs the agent's path for about {@code nanos} (one slice). */
        void exercise(long nanos) throws Exception;
        /** Nanoseconds for {@link #MESSAGES_PER_SAMPLE} messages through the agent's path. */
        long agentNanos() throws Exception;
        @Override
        void close();
    }

    private volatile boolean warm;
    /** The real OpenSSL on the driver's cold messages: bytes, and the nanoseconds they took. */
    private final LongAdder opensslBytes = new LongAdder(), opensslNanos = new LongAdder();
    /**
     * pipellm mode: the encrypt workers' own AES-GCM time (the same SunJCE code, compiled by their
     * work). A driver that is never quiet never lets the exercise run, but the workers' timing still
     * shows whether the agent's AES-GCM is faster than the OpenSSL observed.
     */
    private final LongAdder agentBytes = new LongAdder();
    /** The workers' best (least preempted) AES-GCM time per MiB so far. */
    private final java.util.concurrent.atomic.AtomicLong agentBestNanosPerMiB = new java.util.concurrent.atomic.AtomicLong(Long.MAX_VALUE);
    /** True when no driver message started since the previous call (the warm-up may run). */
    private final BooleanSupplier quiet;

    private EngineWarmUp(boolean warm, BooleanSupplier quiet) {
        this.warm = warm;
        this.quiet = quiet;
    }

    /** TEST ONLY (inject_fault=self_test): the self-test before the warm-up reports a failure. */
    private boolean faultSelfTest;

    public EngineWarmUp failingSelfTest(boolean fail) {
        faultSelfTest = fail;
        return this;
    }

    /** Never warm: the agent's AES-GCM failed its self-test, OpenSSL does every message. */
    public static EngineWarmUp neverWarm() {
        return new EngineWarmUp(false, () -> false);
    }

    /** Warm from the start: nothing to wait for (a mode without agent crypto). */
    public static EngineWarmUp alreadyWarm() {
        return new EngineWarmUp(true, () -> true);
    }

    /**
     * cold_start=agent: warm from the start once the agent's AES-GCM passed its (cold) self-test at
     * once; never warm (OpenSSL does every message) when it failed.
     */
    public static EngineWarmUp selfTestedNow(boolean injectedFailure) {
        String failed = StreamSelfTest.runCold(injectedFailure);
        if (failed == null) return alreadyWarm();
        AgentLog.logger().warn("pipellm: the agent's AES-GCM failed its self-test ({}): OpenSSL does every driver"
                + " message", failed);
        return neverWarm();
    }

    /**
     * Cold until {@link #startInBackground()} has shown the agent faster than the real OpenSSL on the
     * driver's messages; the warm-up only runs while {@code messagesStarted} (the driver's messages so
     * far) stands still.
     */
    public static EngineWarmUp comparingWithOpenSsl(LongSupplier messagesStarted) {
        long[] last = {-1};
        return new EngineWarmUp(false, () -> {
            long now = messagesStarted.getAsLong();
            boolean still = now == last[0];
            last[0] = now;
            return still;
        });
    }

    public boolean isWarm() {
        return warm;
    }

    /** Bytes of the driver's messages timed through the real OpenSSL so far. */
    public long openSslBytesObserved() {
        return opensslBytes.sum();
    }

    /** The real OpenSSL did {@code bytes} of a driver message in {@code nanos} (any thread). */
    void observeOpenSsl(long bytes, long nanos) {
        opensslBytes.add(bytes);
        opensslNanos.add(nanos);
    }

    /** An encrypt worker did {@code bytes} of AES-GCM in {@code nanos} (any thread). */
    public void observeAgent(long bytes, long nanos) {
        agentBytes.add(bytes);
        if (bytes >= (256 << 10)) agentBestNanosPerMiB.accumulateAndGet(nanos * (1L << 20) / bytes, Math::min);
    }

    /**
     * The workers' AES-GCM, at its best (a worker shares the CPU with the app: its average is its
     * share, its best is the engine), beats the OpenSSL observed on the app's threads, with 64 MiB seen
     * of each.
     */
    private boolean workersFaster() {
        long ab = agentBytes.sum(), best = agentBestNanosPerMiB.get(), ob = opensslBytes.sum(), on = opensslNanos.sum();
        return ab >= (64L << 20) && ob >= (64L << 20) && best != Long.MAX_VALUE && on > 0
                && (double) (1L << 20) * on > (double) ob * best;
    }

    /** Starts the warm-up thread and returns at once. */
    public Thread startInBackground() {
        Thread t = new Thread(this::runAndLog, "pipellm-warmup");
        t.setDaemon(true);
        t.setPriority(Thread.MIN_PRIORITY);
        t.start();
        return t;
    }

    /** The agent's real path, on native buffers like the driver's. */
    static Bench realBench() throws Exception {
        return new RealBench();
    }

    private void runAndLog() {
        if (!IdleScheduling.enterIdleClass()) {
            AgentLog.logger().debug("pipellm: the warm-up thread could not enter SCHED_IDLE: it runs at normal priority");
        }
        String failed = StreamSelfTest.run(faultSelfTest);
        if (failed != null) {
            AgentLog.logger().warn("pipellm: the agent's AES-GCM failed its self-test ({}): OpenSSL does every"
                    + " driver message", failed);
            return;
        }
        try (Bench bench = realBench()) {
            long start = System.nanoTime();
            boolean faster = run(bench, BUDGET_NANOS, ROUND_NANOS);
            long ms = (System.nanoTime() - start) / 1_000_000;
            if (faster) {
                AgentLog.logger().info("pipellm: the agent's AES-GCM is warm after {} ms: it takes the driver's messages", ms);
            } else {
                AgentLog.logger().info("pipellm: the agent's AES-GCM was not faster than OpenSSL after {} ms of warm-up:"
                        + " OpenSSL keeps the driver's messages", BUDGET_NANOS / 1_000_000);
            }
        } catch (Throwable t) {
            // a failed warm-up only costs speed: OpenSSL keeps the messages
            AgentLog.logger().warn("pipellm: the AES-GCM warm-up failed ({}): OpenSSL keeps the driver's messages", t.toString());
        }
    }

    /**
     * Warms up and compares, round after round ({@code roundNanos} of exercise each), until the agent
     * is faster than the OpenSSL observed so far (then {@link #isWarm()} turns true and this returns
     * true), or {@code budgetNanos} of exercise were spent on rounds that could compare (or three
     * times that in all) (false).
     */
    boolean run(Bench bench, long budgetNanos, long roundNanos) throws Throwable {
        long sleepMillis = SLICE_NANOS * (100 - DUTY_PERCENT) / DUTY_PERCENT / 1_000_000;
        for (long compared = 0, spent = 0; compared < budgetNanos && spent < 3 * budgetNanos; spent += roundNanos) {
            for (long round = 0; round < roundNanos; ) {
                Thread.sleep(sleepMillis);
                if (!quiet.getAsBoolean()) {   // the driver is busy: leave it the CPU
                    if (workersFaster()) {
                        warm = true;
                        return true;
                    }
                    continue;
                }
                bench.exercise(SLICE_NANOS);
                round += SLICE_NANOS;
            }
            long agent = Long.MAX_VALUE;
            for (int i = 0; i < SAMPLES; i++) agent = Math.min(agent, bench.agentNanos());
            long bytes = opensslBytes.sum(), nanos = opensslNanos.sum();
            if (bytes == 0 || nanos == 0) continue;   // nothing to compare with yet
            compared += roundNanos;
            // agent bytes per ns > OpenSSL bytes per ns, without floating point
            if ((double) MESSAGES_PER_SAMPLE * MESSAGE_BYTES * nanos > (double) bytes * agent) {
                warm = true;
                return true;
            }
        }
        return false;
    }

    /** The agent's real path, on native buffers like the driver's. */
    private static final class RealBench implements Bench {
        private final Arena arena = Arena.ofConfined();
        private final StreamingGcm stream = new StreamingGcm();
        private final byte[] key = new byte[CtxState.KEY_BYTES], iv = new byte[StreamingGcm.IV_BYTES];
        private final byte[] tag = new byte[StreamingGcm.TAG_BYTES];
        private final SecretKeySpec keySpec;
        private final MemorySegment in = arena.allocate(MESSAGE_BYTES, 64), out = arena.allocate(MESSAGE_BYTES, 64);
        private int messages;

        RealBench() throws Exception {
            ThreadLocalRandom.current().nextBytes(key);
            keySpec = new SecretKeySpec(key, "AES");
        }

        private void agentMessage(boolean encrypt) throws Exception {
            messages++;
            for (int i = 0; i < 4; i++) iv[i] = (byte) (messages >>> (8 * i));
            stream.begin(keySpec, iv, encrypt);
            EvpMessages.transform(stream, in.address(), out.address(), MESSAGE_BYTES);
            if (encrypt) stream.finishEncrypt(tag);
            else stream.finishDecrypt(tag, StreamingGcm.TAG_BYTES);   // a wrong tag: only the time counts
        }

        @Override
        public void exercise(long nanos) throws Exception {
            long end = System.nanoTime() + nanos;
            for (int i = 0; System.nanoTime() < end; i++) agentMessage((i & 1) == 0);
        }

        @Override
        public long agentNanos() throws Exception {
            long t0 = System.nanoTime();
            for (int i = 0; i < MESSAGES_PER_SAMPLE; i++) agentMessage(true);
            return System.nanoTime() - t0;
        }

        @Override
        public void close() {
            java.util.Arrays.fill(key, (byte) 0);
            stream.wipe();
            arena.close();
        }
    }
}
