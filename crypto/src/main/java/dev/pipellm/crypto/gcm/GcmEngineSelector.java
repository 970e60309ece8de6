package dev.pipellm.crypto.gcm;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * Picks the engine the agent encrypts with: candidates in order of preference, each constructed, for the JDK
 * engine warmed up (so that the self-test exercises the JIT's intrinsic code, not the interpreter's), then
 * self-tested ({@link GcmSelfTest}); the first that passes wins. A candidate that fails to
 * load or fails any self-test check is closed and never returned. Every decision is written to the report (one
 * line per candidate; no key material), which the agent logs once at start-up.
 *
 * <p>The JDK engine is always the last candidate, so a refused BC-LTS (no jar, relocated, pure-Java fallback)
 * degrades to the JDK with the reason in the report.
 */
public final class GcmEngineSelector {

    /** Which engine to try first. */
    public enum Preference {
        /** SunJCE only (the default: fastest here, no native code, no dependency). */
        JDK,
        /** BC-LTS native first, then SunJCE. */
        BC_LTS_THEN_JDK
    }

    /** Default warm-up budget: java-stack.md saw 64 KiB records reach full speed after ~0.6 s. */
    public static final long DEFAULT_WARM_UP_NANOS = 3_000_000_000L;

    /** The chosen engine and one report line per candidate considered. */
    public record Selection(GcmEngine engine, List<String> report) {
    }

    /** A candidate: a name for the report and a factory that returns the engine or throws with the reason. */
    public record Candidate(String name, Supplier<GcmEngine> factory) {
    }

    private GcmEngineSelector() {
    }

    /**
     * Selects by preference; BC-LTS is loaded from {@code bcLtsJar} (see {@link BcLtsGcmEngine#configuredJar()}).
     *
     * @throws IllegalStateException if no candidate passes (then the agent must stay on the slow path)
     */
    public static Selection select(Preference preference, Path bcLtsJar, long warmUpNanos) {
        List<Candidate> candidates = new ArrayList<>();
        if (preference == Preference.BC_LTS_THEN_JDK) {
            candidates.add(new Candidate("bc-lts-native", () -> {
                BcLtsGcmEngine.LoadOutcome outcome = BcLtsGcmEngine.load(bcLtsJar);
                if (outcome.engine() == null) {
                    throw new IllegalStateException(outcome.report());
                }
                return outcome.engine();
            }));
        }
        candidates.add(new Candidate("jdk-sunjce", JdkGcmEngine::new));
        return select(candidates, warmUpNanos);
    }

    /** Selects the first candidate that constructs and passes the self-test. */
    public static Selection select(List<Candidate> candidates, long warmUpNanos) {
        List<String> report = new ArrayList<>();
        for (Candidate candidate : candidates) {
            GcmEngine engine;
            try {
                engine = candidate.factory().get();
            } catch (RuntimeException | LinkageError e) {
                report.add(candidate.name() + ": refused: " + e.getMessage());
                continue;
            }
            // Warm up first: on a cold JVM SunJCE runs its Java fallback, not the C2 intrinsic stubs, so a
            // self-test before the warm-up would not see an intrinsic bug such as JDK-8371864 (and runs ~5x slower).
            String warmed = "";
            if (engine instanceof JdkGcmEngine jdk && warmUpNanos > 0) {
                try {
                    JdkGcmEngine.WarmUpReport warm = jdk.warmUp(warmUpNanos);
                    warmed = String.format("; warm-up %d messages in %d ms, %.1f GB/s%s", warm.messages(),
                            warm.nanos() / 1_000_000, warm.lastGbps(),
                            warm.reachedFastPath() ? "" : " (budget spent before reaching intrinsic speed)");
                } catch (RuntimeException e) {
                    report.add(candidate.name() + ": warm-up FAILED, not used: " + e.getMessage());
                    engine.close();
                    continue;
                }
            }
            long t0 = System.nanoTime();
            String failure = GcmSelfTest.run(engine);
            long selfTestMicros = (System.nanoTime() - t0) / 1000;
            if (failure != null) {
                report.add(candidate.name() + ": self-test FAILED, not used: " + failure);
                engine.close();
                continue;
            }
            StringBuilder line = new StringBuilder(candidate.name()).append(": self-test passed in ")
                    .append(selfTestMicros).append(" us").append(warmed);
            line.append("; selected");
            report.add(line.toString());
            return new Selection(engine, List.copyOf(report));
        }
        throw new IllegalStateException("no AES-GCM engine passed its self-test: " + report);
    }
}
