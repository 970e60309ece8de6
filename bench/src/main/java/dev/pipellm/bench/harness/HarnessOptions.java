package dev.pipellm.bench.harness;

import static dev.pipellm.bench.harness.Harness.MODES;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pipellm.bench.BenchMain.UsageException;
import dev.pipellm.bench.harness.Harness.Mode;
import dev.pipellm.bench.workload.Workloads;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The command line of {@code bench workloads}: every option with its default, each refused with one line naming
 * it and the accepted values; and, with {@code --check}, the baseline's settings for what the line left out.
 */
final class HarnessOptions {
    List<String> workloads = Workloads.DEFAULT;
    List<Mode> modes = MODES;
    int repeats = 3;
    int loops = 2;
    int workers = Math.max(1, Runtime.getRuntime().availableProcessors() - 1);
    Path check = null;
    int layers = 1;
    boolean verifyFirst = true;
    boolean verifyGiven = false;
    boolean layersGiven = false;
    boolean workloadsGiven = false;
    boolean modesGiven = false;
    boolean repeatsGiven = false;
    boolean loopsGiven = false;
    boolean quick = false;
    String shared = null;
    Path outDir = null;
    long seed = 1;

    static HarnessOptions parse(String[] args) {
        final HarnessOptions o = new HarnessOptions();
        o.read(args);
        return o;
    }

    private void read(String[] args) {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--workloads" -> {
                        workloadsGiven = true;
                        workloads = List.of(need(args, ++i, "--workloads", "a comma-separated list of: "
                                + Workloads.accepted()).split(","));
                        for (String w : workloads) {
                            if (Workloads.isTraceFile(w)) {
                                if (!Files.isRegularFile(Path.of(w))) {
                                    throw new UsageException("bench workloads: trace '" + w + "': no such file");
                                }
                            } else if (!Workloads.NAMES.contains(w)) {
                                throw new UsageException("bench workloads: unknown workload '" + w + "' (accepted: "
                                        + Workloads.accepted() + ", or a trace file FILE.pltrace)");
                            }
                        }
                    }
                    case "--modes" -> {
                        modesGiven = true;
                        final List<Mode> m = new ArrayList<>();
                        for (String n : need(args, ++i, "--modes", "a comma-separated list of: nocc, off, sync, pipellm")
                                .split(",")) {
                            m.add(MODES.stream().filter(x -> x.name().equals(n)).findFirst().orElseThrow(
                                    () -> new UsageException("bench workloads: unknown mode '" + n
                                            + "' (accepted: nocc, off, sync, pipellm)")));
                        }
                        if (!m.get(0).name().equals("nocc")) {
                            throw new UsageException("bench workloads: --modes must start with nocc (the ratios are to "
                                    + "no CC)");
                        }
                        modes = m;
                    }
                    case "--repeats" -> {
                        repeatsGiven = true;
                        final String v = need(args, ++i, "--repeats", "a positive integer below 100");
                        try {
                            repeats = Integer.parseInt(v);
                        } catch (NumberFormatException e) {
                            repeats = -1;
                        }
                        if (repeats < 1 || repeats > 99) {
                            throw new UsageException("bench workloads: --repeats '" + v
                                    + "' is not valid: expected a positive integer below 100");
                        }
                    }
                    case "--loops" -> {
                        loopsGiven = true;
                        final String v = need(args, ++i, "--loops", "a positive integer below 100");
                        try {
                            loops = Integer.parseInt(v);
                        } catch (NumberFormatException e) {
                            loops = -1;
                        }
                        if (loops < 1 || loops > 99) {
                            throw new UsageException("bench workloads: --loops '" + v
                                    + "' is not valid: expected a positive integer below 100");
                        }
                    }
                    case "--workers" -> {
                        final String v = need(args, ++i, "--workers", "an integer from 1 to 64");
                        try {
                            workers = Integer.parseInt(v);
                        } catch (NumberFormatException e) {
                            workers = -1;
                        }
                        if (workers < 1 || workers > 64) {
                            throw new UsageException("bench workloads: --workers '" + v
                                    + "' is not valid: expected an integer from 1 to 64 (encrypt workers of the bound)");
                        }
                    }
                    case "--check" -> check = Path.of(need(args, ++i, "--check", "a baseline results.json"));
                    case "--quick" -> quick = true;
                    case "--verify" -> {
                        final String v = need(args, ++i, "--verify", "first or off");
                        if (!v.equals("first") && !v.equals("off")) {
                            throw new UsageException("bench workloads: --verify '" + v + "' is not valid: expected first "
                                    + "(the first round checks every device byte) or off (simgpu's sampled checks only)");
                        }
                        verifyFirst = v.equals("first");
                        verifyGiven = true;
                    }
                    case "--layers" -> {
                        layersGiven = true;
                        final String v = need(args, ++i, "--layers", "a positive integer (decoder layers of FlexGen)");
                        try {
                            layers = Integer.parseInt(v);
                        } catch (NumberFormatException e) {
                            layers = -1;
                        }
                        if (layers < 1 || layers > 96) {
                            throw new UsageException("bench workloads: --layers '" + v + "' is not valid: expected an "
                                    + "integer from 1 to 96 (decoder layers kept in FlexGen workloads)");
                        }
                    }
                    case "--shared" -> shared = need(args, ++i, "--shared", "a directory");
                    case "--out-dir" -> outDir = Path.of(need(args, ++i, "--out-dir", "a directory"));
                    case "--seed" -> {
                        final String v = need(args, ++i, "--seed", "an integer");
                        try {
                            seed = Long.parseLong(v);
                        } catch (NumberFormatException e) {
                            throw new UsageException("bench workloads: --seed '" + v + "' is not valid: expected an "
                                    + "integer");
                        }
                    }
                    default -> throw new UsageException("bench workloads: unknown option '" + args[i]
                            + "' (accepted: --workloads LIST, --modes LIST, --repeats N, --loops N, --workers N, "
                            + "--layers N, --verify first|off, --quick, --out-dir DIR, --shared DIR, --seed N, --check BASELINE.json)");
                }
            }
    }

    /**
     * What the baseline measured is what this run measures, unless the command line says otherwise: the same
     * workloads, modes, rounds, loops, sizes, layers and verification (ratios of other settings are not comparable).
     */
    void adoptBaseline(JsonNode doc, Map<String, BaselineCheck.Figure> baseline) {
        if (!workloadsGiven) {
            workloads = BaselineCheck.workloads(baseline);
        }
        if (!modesGiven) {
            final List<Mode> m = new ArrayList<>();
            for (BaselineCheck.Figure f : baseline.values()) {
                MODES.stream().filter(x -> x.name().equals(f.mode()) && !m.contains(x)).findFirst()
                        .ifPresent(m::add);
            }
            if (!m.isEmpty() && m.get(0).name().equals("nocc")) {
                modes = m;
            }
        }
        final JsonNode p = doc.path("parameters");
        if (!repeatsGiven && p.path("repeats").isInt()) {
            repeats = p.path("repeats").asInt();
        }
        if (!loopsGiven && p.path("loops").isInt()) {
            loops = p.path("loops").asInt();
        }
        quick |= p.path("quick").asBoolean(false);
        if (!verifyGiven && p.path("verify").isTextual()) {
            verifyFirst = !p.path("verify").asText().equals("off");
        }
        if (!layersGiven && p.path("layers").isInt()) {
            layers = p.path("layers").asInt();
        }
    }

    private static String need(String[] args, int i, String option, String what) {
        if (i >= args.length || args[i].startsWith("--")) {
            throw new UsageException(option + " needs a value: " + what);
        }
        return args[i];
    }
}
