package dev.pipellm.speculator.replay;

import dev.pipellm.speculator.predict.SpeculatorConfig;

import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The replay tool's command line, parsed and checked before any workload runs: a bad value, an unknown
 * workload or a report that cannot be written is one {@link IllegalArgumentException} whose message names the
 * argument and what is accepted (one line, for {@code replay: MESSAGE} on stderr).
 *
 * @param workloads     the workloads to run, in order, without repeats
 * @param shared        the {@code --shared} directory as given, or null
 * @param json          the JSON report to write, or null
 * @param help          {@code --help}: print the usage and do nothing else
 */
record ReplayOptions(List<String> workloads, String shared, Path json, int requests, long seed, long chunkBytes,
                     int depthMessages, long depthBytes, float minConfidence, double jitter, boolean help) {
    static final int DEFAULT_REQUESTS = 2000;
    static final long DEFAULT_SEED = 42;
    /** Each option that takes a value, with what it accepts (in usage order). */
    private static final Map<String, String> EXPECTED = expected();

    private static Map<String, String> expected() {
        final Map<String, String> m = new LinkedHashMap<>();
        m.put("--workload", "NAME[,NAME...] or all");
        m.put("--shared", "a directory");
        m.put("--json", "a file to write");
        m.put("--requests", "a positive integer");
        m.put("--seed", "an integer");
        m.put("--chunk-bytes", "an integer from " + SpeculatorConfig.MIN_CHUNK_BYTES + " to "
                + SpeculatorConfig.MAX_CHUNK_BYTES);
        m.put("--depth-messages", "a positive integer");
        m.put("--depth-bytes", "a positive integer");
        m.put("--min-confidence", "a number from 0 to 1");
        m.put("--jitter", "a number from 0 to 1");
        return Collections.unmodifiableMap(m);
    }

    static ReplayOptions parse(String[] args) {
        final IvPipelineModel.Settings defaults = IvPipelineModel.Settings.defaults();
        List<String> workloads = Workloads.NAMES;
        String shared = null;
        Path json = null;
        int requests = DEFAULT_REQUESTS;
        long seed = DEFAULT_SEED;
        long chunkBytes = SpeculatorConfig.DEFAULT_CHUNK_BYTES;
        int depthMessages = defaults.depthMessages();
        long depthBytes = defaults.depthBytes();
        float minConfidence = defaults.minConfidence();
        double jitter = 0;
        for (int i = 0; i < args.length; i++) {
            final String a = args[i];
            if (a.equals("--help") || a.equals("-h")) {
                return new ReplayOptions(workloads, shared, json, requests, seed, chunkBytes, depthMessages,
                        depthBytes, minConfidence, jitter, true);
            }
            final String v = value(a, args, ++i);
            switch (a) {
                case "--workload" -> workloads = workloads(v);
                case "--shared" -> shared = v;
                case "--json" -> json = writableReport(v);
                case "--requests" -> requests = (int) integer(a, v, 1, Integer.MAX_VALUE);
                case "--seed" -> seed = integer(a, v, Long.MIN_VALUE, Long.MAX_VALUE);
                case "--chunk-bytes" -> chunkBytes = integer(a, v, SpeculatorConfig.MIN_CHUNK_BYTES,
                        SpeculatorConfig.MAX_CHUNK_BYTES);
                case "--depth-messages" -> depthMessages = (int) integer(a, v, 1, Integer.MAX_VALUE);
                case "--depth-bytes" -> depthBytes = integer(a, v, 1, Long.MAX_VALUE);
                case "--min-confidence" -> minConfidence = fraction(a, v);
                case "--jitter" -> jitter = fraction(a, v);
                default -> throw new IllegalStateException("option " + a + " is in EXPECTED but not parsed");
            }
        }
        return new ReplayOptions(workloads, shared, json, requests, seed, chunkBytes, depthMessages, depthBytes,
                minConfidence, jitter, false);
    }

    /** Every option, for messages and the usage. */
    static String options() {
        return String.join(", ", EXPECTED.keySet()) + ", --help";
    }

    private static String acceptedWorkloads() {
        return String.join(", ", Workloads.NAMES) + ", all";
    }

    /**
     * The value of option {@code a} at {@code args[i]}. A positional argument, an unknown option, a missing value
     * or the next option in its place is an error.
     */
    private static String value(String a, String[] args, int i) {
        if (!a.startsWith("-")) {
            throw new IllegalArgumentException("unexpected argument '" + a + "': name workloads with"
                    + " --workload NAME[,NAME...] (accepted: " + acceptedWorkloads() + ")");
        }
        if (!EXPECTED.containsKey(a)) {
            throw new IllegalArgumentException("unknown option '" + a + "' (accepted: " + options() + ")");
        }
        if (i >= args.length || args[i].startsWith("--")) {
            throw new IllegalArgumentException(a + " needs a value: " + EXPECTED.get(a));
        }
        return args[i];
    }

    private static List<String> workloads(String v) {
        final Set<String> names = new LinkedHashSet<>();
        for (String name : v.split(",", -1)) {
            final String n = name.trim();
            if (n.equals("all")) {
                names.addAll(Workloads.NAMES);
            } else if (Workloads.NAMES.contains(n)) {
                names.add(n);
            } else {
                throw new IllegalArgumentException("--workload '" + n + "' is not valid: accepted: "
                        + acceptedWorkloads());
            }
        }
        return List.copyOf(names);
    }

    private static long integer(String option, String v, long min, long max) {
        try {
            final long n = Long.parseLong(v);
            if (n >= min && n <= max) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below, in the same words as a value out of range
        }
        throw invalid(option, v, EXPECTED.get(option));
    }

    private static float fraction(String option, String v) {
        try {
            final float f = Float.parseFloat(v);
            if (f >= 0 && f <= 1) {
                return f;
            }
        } catch (NumberFormatException e) {
            // reported below, in the same words as a value out of range
        }
        throw invalid(option, v, EXPECTED.get(option));
    }

    private static IllegalArgumentException invalid(String option, String v, String expected) {
        return new IllegalArgumentException(option + " '" + v + "' is not valid: expected " + expected);
    }

    /** The report file, checked now so that a typo fails before the workloads run, not after them. */
    private static Path writableReport(String v) {
        final Path file;
        try {
            file = Path.of(v).toAbsolutePath();
        } catch (InvalidPathException e) {
            throw invalid("--json", v, "a file name (" + e.getReason() + ")");
        }
        final Path dir = file.getParent();
        if (Files.isDirectory(file)) {
            throw invalid("--json", v, "a file to write, not a directory");
        }
        if (dir == null || !Files.isDirectory(dir)) {
            throw invalid("--json", v, "a file in an existing directory (" + dir + " is not one)");
        }
        final Path target = Files.exists(file) ? file : dir;
        if (!Files.isWritable(target)) {
            throw invalid("--json", v, "a file this user may write (" + target + " is not writable)");
        }
        return file;
    }
}
