package dev.pipellm.bench;

import dev.pipellm.bench.harness.BaselineCheck;
import dev.pipellm.bench.harness.BaselineMaker;
import dev.pipellm.bench.harness.Harness;
import dev.pipellm.bench.harness.Micro;
import dev.pipellm.bench.trace.TraceFormatException;
import dev.pipellm.bench.trace.TraceReader;
import dev.pipellm.bench.trace.TraceStats;
import dev.pipellm.bench.workload.Workloads;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Command line of the bench module (run by ./pipellm): {@code generate}, {@code stats} and {@code workloads}.
 * Usage errors are one line on stderr starting {@code bench: } (or {@code trace: }), exit status 2.
 */
public final class BenchMain {
    private BenchMain() {
    }

    public static void main(String[] args) {
        try {
            System.exit(run(args));
        } catch (UsageException | TraceFormatException e) {
            System.err.println(e.getMessage());
            System.exit(2);
        } catch (IllegalArgumentException | IllegalStateException e) {
            System.err.println("bench: " + e.getMessage());
            System.exit(2);
        }
    }

    static int run(String[] args) {
        if (args.length == 0) {
            throw new UsageException("bench: no command given (accepted: generate, stats, workloads, baseline, check, micro)");
        }
        final String[] rest = Arrays.copyOfRange(args, 1, args.length);
        return switch (args[0]) {
            case "generate" -> generate(rest);
            case "stats" -> stats(rest);
            case "workloads" -> Harness.main(rest);
            case "baseline" -> BaselineMaker.main(rest);
            case "check" -> BaselineCheck.main(rest);
            case "micro" -> Micro.main(rest);
            default -> throw new UsageException("bench: unknown command '" + args[0]
                    + "' (accepted: generate, stats, workloads, baseline, check, micro)");
        };
    }

    /** generate WORKLOAD --out FILE [--quick] [--seed N] [--shared DIR]. */
    static int generate(String[] args) {
        String workload = null;
        String out = null;
        String shared = null;
        boolean quick = false;
        long seed = 1;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--out" -> out = value(args, ++i, "--out", "a file name");
                case "--shared" -> shared = value(args, ++i, "--shared", "a directory");
                case "--quick" -> quick = true;
                case "--seed" -> seed = parseLong(value(args, ++i, "--seed", "an integer"), "--seed");
                default -> {
                    if (args[i].startsWith("-")) {
                        throw new UsageException("trace generate: unknown option '" + args[i]
                                + "' (accepted: --out FILE, --quick, --seed N, --shared DIR)");
                    }
                    if (workload != null) {
                        throw new UsageException("trace generate: more than one workload ('" + workload + "', '"
                                + args[i] + "')");
                    }
                    workload = args[i];
                }
            }
        }
        if (workload == null) {
            throw new UsageException("trace generate: no workload given (accepted: " + Workloads.accepted() + ")");
        }
        if (out == null) {
            throw new UsageException("trace generate: --out FILE is required");
        }
        final Workloads.Workload w = Workloads.byName(workload, shared, quick, seed);
        final long records = w.write(Path.of(out));
        System.out.println("trace generate: " + w.name() + ": " + records + " records to " + out + " (" + w.describe()
                + ")");
        return 0;
    }

    /** stats FILE: checks the whole file and prints its copy statistics (one line, key=value). */
    static int stats(String[] args) {
        if (args.length != 1 || args[0].startsWith("-")) {
            throw new UsageException("trace stats: expected one trace file (usage: trace stats FILE)");
        }
        try (TraceReader r = TraceReader.open(Path.of(args[0]))) {
            final TraceStats s = TraceStats.of(r);
            System.out.println("workload=" + r.meta().getOrDefault("workload", "unnamed") + " " + s.line());
        }
        return 0;
    }

    static String value(String[] args, int i, String option, String what) {
        if (i >= args.length || args[i].startsWith("--")) {
            throw new UsageException(option + " needs a value: " + what);
        }
        return args[i];
    }

    static long parseLong(String v, String option) {
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new UsageException(option + " '" + v + "' is not valid: expected an integer");
        }
    }

    /** A usage error: its message is the one line printed. */
    public static final class UsageException extends RuntimeException {
        public UsageException(String message) {
            super(message);
        }
    }
}
