package dev.pipellm.speculator.trace;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.Arrays;

/**
 * The Azure LLM inference trace 2023 (Splitwise; CC-BY 4.0): per request its arrival time and prompt/output
 * token counts. Columns {@code TIMESTAMP,ContextTokens,GeneratedTokens}; timestamps like
 * {@code 2023-11-16 18:15:46.6805900} become seconds since the first request.
 */
public final class AzureTrace {
    private static final DateTimeFormatter FORMAT = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSSSSSS");

    private final String name;
    private final double[] arrivalSeconds;
    private final int[] promptTokens;
    private final int[] outputTokens;

    private AzureTrace(String name, double[] arrivalSeconds, int[] promptTokens, int[] outputTokens) {
        this.name = name;
        this.arrivalSeconds = arrivalSeconds;
        this.promptTokens = promptTokens;
        this.outputTokens = outputTokens;
    }

    /** Reads a trace CSV. */
    public static AzureTrace read(Path csv) {
        try (BufferedReader in = Files.newBufferedReader(csv, StandardCharsets.UTF_8)) {
            final String header = in.readLine();
            if (header == null || !header.trim().equals("TIMESTAMP,ContextTokens,GeneratedTokens")) {
                throw new IllegalArgumentException("not an Azure LLM trace (header '" + header + "'): " + csv);
            }
            double[] t = new double[1 << 14];
            int[] p = new int[1 << 14];
            int[] o = new int[1 << 14];
            int n = 0;
            LocalDateTime first = null;
            String line;
            int lineNo = 1;
            while ((line = in.readLine()) != null) {
                lineNo++;
                if (line.isBlank()) {
                    continue;
                }
                final String[] f = line.split(",");
                if (f.length != 3) {
                    throw new IllegalArgumentException(csv + ":" + lineNo + ": expected 3 fields, got " + f.length);
                }
                final LocalDateTime ts = LocalDateTime.parse(padFraction(f[0].trim()), FORMAT);
                if (first == null) {
                    first = ts;
                }
                if (n == t.length) {
                    t = Arrays.copyOf(t, n * 2);
                    p = Arrays.copyOf(p, n * 2);
                    o = Arrays.copyOf(o, n * 2);
                }
                t[n] = ChronoUnit.NANOS.between(first, ts) / 1e9;
                p[n] = Integer.parseInt(f[1].trim());
                o[n] = Integer.parseInt(f[2].trim());
                n++;
            }
            final String fileName = csv.getFileName().toString();
            return new AzureTrace(fileName.replace("AzureLLMInferenceTrace_", "azure-").replace(".csv", ""),
                    Arrays.copyOf(t, n), Arrays.copyOf(p, n), Arrays.copyOf(o, n));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read Azure trace " + csv, e);
        }
    }

    private static String padFraction(String ts) {
        final int dot = ts.indexOf('.');
        if (dot < 0) {
            return ts + ".0000000";
        }
        final int digits = ts.length() - dot - 1;
        return digits >= 7 ? ts.substring(0, dot + 8) : ts + "0".repeat(7 - digits);
    }

    public String name() {
        return name;
    }

    public int size() {
        return arrivalSeconds.length;
    }

    public double arrivalSeconds(int i) {
        return arrivalSeconds[i];
    }

    public int promptTokens(int i) {
        return promptTokens[i];
    }

    public int outputTokens(int i) {
        return outputTokens[i];
    }
}
