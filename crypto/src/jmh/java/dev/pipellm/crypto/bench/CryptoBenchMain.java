package dev.pipellm.crypto.bench;

import dev.pipellm.crypto.iv.CcIvCounter;
import dev.pipellm.crypto.iv.IvSequenceLearner;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Runs every crypto measurement issue 4 asks for and prints Markdown tables: warm JMH throughput per engine, size
 * and memory kind; per-message init cost; cold-JVM first second (child JVMs); the IV learner's messages to
 * certainty; and {@code openssl speed -evp aes-256-gcm} at the same sizes. GB/s are decimal (10^9 B/s).
 */
public final class CryptoBenchMain {
    private static final int[] SIZES = {4096, 65536, 1 << 20, 16 << 20};

    private CryptoBenchMain() {
    }

    public static void main(String[] args) throws Exception {
        System.out.println("# pipellm-crypto benchmarks");
        System.out.println("JVM: " + System.getProperty("java.vm.name") + " " + System.getProperty("java.version")
                + ", cpus=" + Runtime.getRuntime().availableProcessors());
        jmh();
        coldStart();
        learner();
        openssl();
    }

    private static void jmh() throws Exception {
        Collection<RunResult> results = new Runner(new OptionsBuilder()
                .include(GcmThroughputBenchmark.class.getSimpleName())
                .include(GcmInitCostBenchmark.class.getSimpleName())
                .build()).run();
        System.out.println("\n## Warm throughput (JMH, 1 thread, GB/s; fresh IV per message)\n");
        System.out.println("| engine | memory | 4 KiB | 64 KiB | 1 MiB | 16 MiB |");
        System.out.println("|---|---|---|---|---|---|");
        for (String engine : new String[]{"jdk", "bc-lts"}) {
            for (String memory : new String[]{"heap", "offheap"}) {
                StringBuilder row = new StringBuilder("| " + engine + " | " + memory + " |");
                for (int size : SIZES) {
                    double ns = score(results, "GcmThroughputBenchmark", engine, String.valueOf(size), memory);
                    row.append(String.format(" %.2f |", size / ns));
                }
                System.out.println(row);
            }
        }
        System.out.println("\n## Per-message cost (16-byte message: init + 1 block + tag), ns\n");
        System.out.println("| engine | ns/message |");
        System.out.println("|---|---|");
        for (String engine : new String[]{"jdk", "bc-lts"}) {
            System.out.printf("| %s | %.0f |%n", engine, score(results, "GcmInitCostBenchmark", engine, null, null));
        }
    }

    private static double score(Collection<RunResult> results, String bench, String engine, String size,
                                String memory) {
        for (RunResult r : results) {
            var p = r.getParams();
            if (p.getBenchmark().contains(bench) && engine.equals(p.getParam("engine"))
                    && (size == null || size.equals(p.getParam("size")))
                    && (memory == null || memory.equals(p.getParam("memory")))) {
                return r.getPrimaryResult().getScore();
            }
        }
        return Double.NaN;
    }

    private static void coldStart() throws Exception {
        System.out.println("\n## Cold JVM: engine setup and first second of use (fresh JVM per cell)\n");
        System.out.println("| engine | memory | size | setup ms | first-second GB/s |");
        System.out.println("|---|---|---|---|---|");
        String java = ProcessHandle.current().info().command().orElse("java");
        String cp = System.getProperty("java.class.path");
        List<String> inherited = ManagementFactory.getRuntimeMXBean().getInputArguments();
        for (String engine : new String[]{"jdk-nowarm", "jdk", "bc-lts"}) {
            for (String memory : new String[]{"heap", "offheap"}) {
                for (int size : new int[]{65536, 1 << 20, 16 << 20}) {
                    List<String> cmd = new ArrayList<>();
                    cmd.add(java);
                    cmd.addAll(inherited);
                    cmd.addAll(List.of("--enable-native-access=ALL-UNNAMED", "-cp", cp,
                            ColdStartProbe.class.getName(), engine, String.valueOf(size), memory));
                    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
                    String last = "";
                    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
                            StandardCharsets.UTF_8))) {
                        for (String line; (line = r.readLine()) != null; ) {
                            last = line;
                        }
                    }
                    p.waitFor();
                    String[] f = last.trim().split(" ");
                    System.out.printf("| %s | %s | %s | %s | %s |%n", engine, memory, human(size),
                            f.length == 3 ? f[0] : "?", f.length == 3 ? f[1] : "failed: " + last);
                }
            }
        }
    }

    private static void learner() {
        System.out.println("\n## IV learner: observations until certain for the next 64 messages\n");
        SplittableRandom random = new SplittableRandom(2026);
        byte[] iv = new byte[12];
        int runs = 5000;
        int[] firstCertain = new int[runs];
        long positions = 0;
        long certain = 0;
        for (int run = 0; run < runs; run++) {
            CcIvCounter truth = new CcIvCounter(random.nextInt(), random.nextLong(), random.nextLong(1000),
                    random.nextInt());
            IvSequenceLearner learner = new IvSequenceLearner();
            firstCertain[run] = -1;
            for (int n = 1; n <= 8192; n++) {
                long gap = random.nextInt(8) == 0 ? random.nextInt(4) : 0;
                truth.skip(gap);
                truth.next(iv);
                learner.observe(iv, gap);
                boolean ok = learner.certainHorizon() >= 64;
                if (ok && firstCertain[run] < 0) {
                    firstCertain[run] = n;
                }
                if (n > 1024) {
                    positions++;
                    certain += ok ? 1 : 0;
                }
            }
        }
        Arrays.sort(firstCertain);
        System.out.println("| runs | median | p99 | max | never | share certain(64) after 1024 obs |");
        System.out.println("|---|---|---|---|---|---|");
        long never = Arrays.stream(firstCertain).filter(x -> x < 0).count();
        System.out.printf("| %d (random mask, start; 1/8 of steps skip 0-3) | %d | %d | %d | %d | %.4f |%n", runs,
                firstCertain[runs / 2], firstCertain[runs * 99 / 100], firstCertain[runs - 1], never,
                (double) certain / positions);
    }

    private static void openssl() {
        System.out.println("\n## openssl speed -evp aes-256-gcm (1 s per size), GB/s\n");
        System.out.println("| 4 KiB | 64 KiB | 1 MiB | 16 MiB |");
        System.out.println("|---|---|---|---|");
        StringBuilder row = new StringBuilder("|");
        for (int size : SIZES) {
            row.append(' ').append(opensslGbps(size)).append(" |");
        }
        System.out.println(row);
    }

    private static String opensslGbps(int size) {
        try {
            Process p = new ProcessBuilder("openssl", "speed", "-seconds", "1", "-bytes", String.valueOf(size),
                    "-evp", "aes-256-gcm").redirectErrorStream(true).start();
            String result = "n/a";
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    // e.g. "AES-256-GCM  123456.78k" (1000s of bytes per second)
                    if (line.toLowerCase().startsWith("aes-256-gcm") && line.trim().endsWith("k")) {
                        String[] f = line.trim().split("\\s+");
                        double kbps = Double.parseDouble(f[f.length - 1].replace("k", ""));
                        result = String.format("%.2f", kbps * 1000 / 1e9);
                    }
                }
            }
            p.waitFor();
            return result;
        } catch (Exception e) {
            return "n/a (" + e.getMessage() + ")";
        }
    }

    private static String human(int size) {
        return size >= (1 << 20) ? (size >> 20) + " MiB" : (size >> 10) + " KiB";
    }
}
