package dev.pipellm.agent.evp;

import dev.pipellm.crypto.gcm.GcmSelfTest;
import dev.pipellm.crypto.gcm.StreamingGcm;

/**
 * The self-test of the agent's own per-update AES-GCM ({@link StreamingGcm}) before it takes any
 * driver message: known answers at many sizes (computed with OpenSSL), several update splits, both
 * directions (JDK-8371864: some JDK 25 builds' AES-GCM intrinsics wrote wrong ciphertext for some
 * sizes). It runs after a short warm-up, so that it checks the compiled intrinsic code the messages
 * will run, not the interpreter's. A failure leaves every message to OpenSSL.
 */
public final class StreamSelfTest {
    /** Warm-up before the check: java-stack.md, SunJCE's GCM caller compiles after ~5000 updates. */
    private static final long WARM_UP_NANOS = 1_000_000_000L;

    private StreamSelfTest() {}

    /** The cold check's outcome, once per JVM ("" passed). */
    private static volatile String coldOutcome;

    /** The warm check's outcome, once per JVM ("" passed); the slow path and the workers share it. */
    private static String warmOutcome;

    /**
     * Null when the agent's AES-GCM passed, else what failed (never key bytes). After a warm-up; run
     * once per JVM, by whichever of the slow path's warm-up and the pipeline asks first (the other
     * waits for the outcome).
     */
    public static String run(boolean injectedFailure) {
        if (injectedFailure) return "inject_fault=self_test (test only)";
        synchronized (StreamSelfTest.class) {
            if (warmOutcome == null) {
                String r;
                try {
                    StreamingGcm.warmUp(WARM_UP_NANOS);
                    r = GcmSelfTest.runStreaming(StreamingGcm::create);
                } catch (Throwable t) {
                    r = t.toString();
                }
                warmOutcome = r == null ? "" : r;
            }
            return warmOutcome.isEmpty() ? null : warmOutcome;
        }
    }

    /**
     * The same check without the warm-up, once per JVM (cold_start=agent: the agent takes messages from
     * the first one, so the check runs at start-up and must be short; ~0.3 s here).
     */
    static String runCold(boolean injectedFailure) {
        if (injectedFailure) return "inject_fault=self_test (test only)";
        String o = coldOutcome;
        if (o == null) {
            String r;
            try {
                r = GcmSelfTest.runStreaming(StreamingGcm::create);
            } catch (Throwable t) {
                r = t.toString();
            }
            coldOutcome = o = r == null ? "" : r;
        }
        return o.isEmpty() ? null : o;
    }
}
