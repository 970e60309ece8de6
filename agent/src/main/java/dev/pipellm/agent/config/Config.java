package dev.pipellm.agent.config;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The agent's configuration, parsed once at bootstrap from the shim's merged options string
 * ({@code key=value,...}; the shim merges the {@code PIPELLM_<KEY>} variables and the
 * {@code -agentpath:libpipellm.so=...} options, later settings winning).
 *
 * <p>Each option has a key ({@code X_KEY}, also the lower-case tail of its {@code PIPELLM_*} variable,
 * {@code X_ENV}) and a default ({@code X_DEFAULT}); units are in the names. Validation happens here, at
 * start-up, and a refusal is a {@link ConfigException} whose message is one line naming the key and the
 * accepted values. docs/configuration.md lists the same keys.
 *
 * <p>Immutable; safe to share between threads.
 */
public final class Config {
    public static final String MODE_KEY = "mode";
    public static final String MODE_ENV = "PIPELLM_MODE";
    public static final Mode MODE_DEFAULT = Mode.PIPELLM;

    public static final String LOG_KEY = "log";
    public static final String LOG_ENV = "PIPELLM_LOG";
    public static final LogLevel LOG_DEFAULT = LogLevel.WARN;

    /** Path of the JSON statistics file (written periodically and at exit); empty: none. */
    public static final String STATS_KEY = "stats";
    public static final String STATS_ENV = "PIPELLM_STATS";
    public static final String STATS_DEFAULT = "";

    /** How often the statistics file is rewritten while the process runs; 0: only at exit. */
    public static final String STATS_INTERVAL_KEY = "stats_interval_ms";
    public static final String STATS_INTERVAL_ENV = "PIPELLM_STATS_INTERVAL_MS";
    public static final long STATS_INTERVAL_DEFAULT_MS = 1000;
    public static final long STATS_INTERVAL_MAX_MS = 3_600_000;

    /** Always print the one-line summary at exit (else it is an info-level line). */
    public static final String SUMMARY_KEY = "summary";
    public static final String SUMMARY_ENV = "PIPELLM_SUMMARY";
    public static final boolean SUMMARY_DEFAULT = false;

    /** Who handles messages until the agent's own AES-GCM is warm and faster than OpenSSL. */
    public static final String COLD_START_KEY = "cold_start";
    public static final String COLD_START_ENV = "PIPELLM_COLD_START";
    public static final ColdStart COLD_START_DEFAULT = ColdStart.OPENSSL;

    public static final String FAIL_CLOSED_KEY = "fail_closed";
    public static final String FAIL_CLOSED_ENV = "PIPELLM_FAIL_CLOSED";
    public static final boolean FAIL_CLOSED_DEFAULT = false;

    /** Encrypt workers of the speculative pipeline (pipellm mode): default the cores minus one, at least one. */
    public static final String WORKERS_KEY = "workers";
    public static final String WORKERS_ENV = "PIPELLM_WORKERS";
    public static final int WORKERS_DEFAULT = Math.max(1, Runtime.getRuntime().availableProcessors() - 1);
    public static final int WORKERS_MIN = 1;
    public static final int WORKERS_MAX = 64;

    /** Private memory for pre-encrypted slots: each slot holds its ciphertext and a snapshot of its plaintext. */
    public static final String MEMORY_BUDGET_KEY = "memory_budget";
    public static final String MEMORY_BUDGET_ENV = "PIPELLM_MEMORY_BUDGET";
    public static final long MEMORY_BUDGET_DEFAULT_BYTES = 256L << 20;
    public static final long MEMORY_BUDGET_MIN_BYTES = 1L << 20;
    public static final long MEMORY_BUDGET_MAX_BYTES = 1L << 40;

    /** How a commit knows a slot's plaintext is unchanged ({@link Validate}). */
    public static final String VALIDATE_KEY = "validate";
    public static final String VALIDATE_ENV = "PIPELLM_VALIDATE";
    public static final Validate VALIDATE_DEFAULT = Validate.AUTO;

    /**
     * How the pipeline's threads are scheduled: {@code idle} (Linux SCHED_IDLE: they only ever run on
     * a CPU nothing else wants, so they can never slow the app) or {@code normal} (ordinary threads:
     * for hosts with cores set aside for PipeLLM, and for tests on a shared machine).
     */
    public static final String WORKER_SCHED_KEY = "worker_sched";
    public static final String WORKER_SCHED_ENV = "PIPELLM_WORKER_SCHED";
    public static final boolean WORKER_SCHED_IDLE_DEFAULT = true;

    /**
     * pipellm: {@code on} pauses pre-encryption while it does not make the app's time inside EVP per
     * H2D byte cheaper than without it (the pipeline's Governor); {@code off} pre-encrypts regardless
     * (benchmarks of the fast path, tests).
     */
    public static final String GOVERNOR_KEY = "governor";
    public static final String GOVERNOR_ENV = "PIPELLM_GOVERNOR";
    public static final boolean GOVERNOR_DEFAULT = true;

    /** JFR events for commit, relinquish and NOP (pipellm mode). */
    public static final String JFR_KEY = "jfr";
    public static final String JFR_ENV = "PIPELLM_JFR";
    public static final boolean JFR_DEFAULT = false;

    /**
     * Path of a copy trace to record (docs/trace-format.md): the program's copies, allocations and
     * synchronisations as the shim reports them; empty: none. Its directory must exist.
     */
    public static final String TRACE_KEY = "trace";
    public static final String TRACE_ENV = "PIPELLM_TRACE";
    public static final String TRACE_DEFAULT = "";

    /** TEST ONLY: {@code <point>:<n>}, see {@link FaultPoint}. */
    public static final String INJECT_FAULT_KEY = "inject_fault";
    public static final String INJECT_FAULT_ENV = "PIPELLM_INJECT_FAULT";
    public static final String INJECT_FAULT_DEFAULT = "none";

    /** Keys only the shim reads; the agent accepts and ignores them. */
    /** The shim's (shim_host_register.c): cudaHostRegister as bookkeeping under CC. Validated here only. */
    public static final String HOST_REGISTER_KEY = "host_register";
    public static final String HOST_REGISTER_ENV = "PIPELLM_HOST_REGISTER";
    public static final String HOST_REGISTER_DEFAULT = "off";
    public static final String HOME_KEY = "home";
    public static final String JAVA_HOME_KEY = "java_home";

    /** Every key, in the order of native-shim/shim/shim_options.def (ConfigTest checks they agree). */
    public static final List<String> KEYS = List.of(MODE_KEY, LOG_KEY, STATS_KEY, STATS_INTERVAL_KEY, SUMMARY_KEY,
            COLD_START_KEY, FAIL_CLOSED_KEY, WORKERS_KEY, MEMORY_BUDGET_KEY, VALIDATE_KEY, WORKER_SCHED_KEY, GOVERNOR_KEY, JFR_KEY, TRACE_KEY, INJECT_FAULT_KEY, HOST_REGISTER_KEY, HOME_KEY, JAVA_HOME_KEY);

    static final String KNOWN_KEYS = String.join(", ", KEYS);

    private final Mode mode;
    private final LogLevel log;
    private final String statsPath;
    private final long statsIntervalMs;
    private final boolean summary;
    private final ColdStart coldStart;
    private final boolean failClosed;
    private final int workers;
    private final long memoryBudgetBytes;
    private final Validate validate;
    private final boolean workerSchedIdle;
    private final boolean governor;
    private final boolean jfr;
    private final String tracePath;
    private final FaultPoint faultPoint;
    private final long faultNth;

    private Config(Mode mode, LogLevel log, String statsPath, long statsIntervalMs, boolean summary,
                   ColdStart coldStart, boolean failClosed, int workers, long memoryBudgetBytes, Validate validate,
                   boolean workerSchedIdle, boolean governor, boolean jfr, String tracePath, FaultPoint faultPoint,
                   long faultNth) {
        this.mode = mode;
        this.log = log;
        this.statsPath = statsPath;
        this.statsIntervalMs = statsIntervalMs;
        this.summary = summary;
        this.coldStart = coldStart;
        this.failClosed = failClosed;
        this.workers = workers;
        this.memoryBudgetBytes = memoryBudgetBytes;
        this.validate = validate;
        this.workerSchedIdle = workerSchedIdle;
        this.governor = governor;
        this.jfr = jfr;
        this.tracePath = tracePath;
        this.faultPoint = faultPoint;
        this.faultNth = faultNth;
    }

    /** All defaults. */
    public static Config defaults() {
        return new Config(MODE_DEFAULT, LOG_DEFAULT, STATS_DEFAULT, STATS_INTERVAL_DEFAULT_MS, SUMMARY_DEFAULT,
                COLD_START_DEFAULT, FAIL_CLOSED_DEFAULT, WORKERS_DEFAULT, MEMORY_BUDGET_DEFAULT_BYTES, VALIDATE_DEFAULT, WORKER_SCHED_IDLE_DEFAULT,
                GOVERNOR_DEFAULT, JFR_DEFAULT, TRACE_DEFAULT, FaultPoint.NONE, 0);
    }

    /**
     * Parses and validates {@code key=value,...}. {@code null} or blank means all defaults; empty
     * entries (",,") are skipped; a repeated key keeps its last value.
     */
    public static Config parse(String options) throws ConfigException {
        Map<String, String> kv = new LinkedHashMap<>();
        if (options != null) {
            for (String entry : options.split(",")) {
                String e = entry.strip();
                if (e.isEmpty()) continue;
                int eq = e.indexOf('=');
                if (eq <= 0) {
                    String key = eq < 0 ? e : "";
                    throw new ConfigException(key, "pipellm: option '" + e + "' is not key=value: known keys: "
                            + KNOWN_KEYS);
                }
                kv.put(e.substring(0, eq).strip().toLowerCase(Locale.ROOT), e.substring(eq + 1).strip());
            }
        }
        Mode mode = MODE_DEFAULT;
        LogLevel log = LOG_DEFAULT;
        String stats = STATS_DEFAULT;
        long statsInterval = STATS_INTERVAL_DEFAULT_MS;
        boolean summary = SUMMARY_DEFAULT;
        ColdStart coldStart = COLD_START_DEFAULT;
        boolean failClosed = FAIL_CLOSED_DEFAULT;
        int workers = WORKERS_DEFAULT;
        long budget = MEMORY_BUDGET_DEFAULT_BYTES;
        Validate validate = VALIDATE_DEFAULT;
        boolean jfr = JFR_DEFAULT;
        boolean workerSchedIdle = WORKER_SCHED_IDLE_DEFAULT;
        boolean governor = GOVERNOR_DEFAULT;
        String trace = TRACE_DEFAULT;
        FaultPoint faultPoint = FaultPoint.NONE;
        long faultNth = 0;
        for (Map.Entry<String, String> e : kv.entrySet()) {
            String key = e.getKey();
            String v = e.getValue();
            switch (key) {
                case MODE_KEY -> mode = parseMode(v);
                case LOG_KEY -> log = parseLog(v);
                case STATS_KEY -> stats = v;
                case STATS_INTERVAL_KEY -> statsInterval = parseStatsInterval(v);
                case SUMMARY_KEY -> summary = parseBool(key, v);
                case COLD_START_KEY -> coldStart = parseColdStart(v);
                case FAIL_CLOSED_KEY -> failClosed = parseBool(key, v);
                case WORKERS_KEY -> workers = parseWorkers(v);
                case MEMORY_BUDGET_KEY -> budget = parseBudget(v);
                case VALIDATE_KEY -> validate = parseValidate(v);
                case JFR_KEY -> jfr = parseBool(key, v);
                case TRACE_KEY -> trace = parseTrace(v);
                case GOVERNOR_KEY -> governor = switch (v) {
                    case "on" -> true;
                    case "off" -> false;
                    default -> throw bad(key, v, "on, off");
                };
                case WORKER_SCHED_KEY -> workerSchedIdle = switch (v) {
                    case "idle" -> true;
                    case "normal" -> false;
                    default -> throw bad(key, v, "idle, normal");
                };
                case INJECT_FAULT_KEY -> {
                    if (v.isEmpty() || v.equals(INJECT_FAULT_DEFAULT)) {
                        faultPoint = FaultPoint.NONE;
                    } else {
                        int colon = v.indexOf(':');
                        faultPoint = colon < 0 ? null : faultPoint(v.substring(0, colon));
                        faultNth = colon < 0 ? -1 : parseLong(v.substring(colon + 1));
                        if (faultPoint == null || faultNth < 1) {
                            throw bad(key, v, FaultPoint.ACCEPTED);
                        }
                    }
                }
                case HOST_REGISTER_KEY -> {
                    if (!v.equals("off") && !v.equals("emulate")) throw bad(key, v, "off, emulate");
                }
                case HOME_KEY, JAVA_HOME_KEY -> { /* the shim's */ }
                default -> throw new ConfigException(key, "pipellm: unknown option '" + key + "' ("
                        + env(key) + ", or agent option " + key + "): known keys: " + KNOWN_KEYS);
            }
        }
        return new Config(mode, log, stats, statsInterval, summary, coldStart, failClosed, workers, budget, validate,
                workerSchedIdle, governor, jfr, trace, faultPoint, faultNth);
    }

    private static String parseTrace(String v) throws ConfigException {
        if (v.isEmpty()) return v;
        java.nio.file.Path p = java.nio.file.Path.of(v).toAbsolutePath();
        java.nio.file.Path dir = p.getParent();
        if (dir == null || !java.nio.file.Files.isDirectory(dir) || java.nio.file.Files.isDirectory(p)) {
            throw bad(TRACE_KEY, v, "the path of a file to write, in an existing directory");
        }
        return p.toString();
    }

    /**
     * The options the shim would merge from {@code env}'s {@code PIPELLM_<KEY>} variables (known keys
     * only, in {@link #KEYS} order), as {@code key=value,...}. A value with a comma is refused, as the
     * shim refuses it. {@code mode=off} is left out: the shim handles it and never starts the agent.
     */
    public static String optionsFromEnvironment(Map<String, String> env) throws ConfigException {
        StringBuilder sb = new StringBuilder();
        for (String key : KEYS) {
            String v = env.get(env(key));
            if (v == null || (key.equals(MODE_KEY) && v.equals("off"))) continue;
            if (v.indexOf(',') >= 0) throw bad(key, v, "a value without commas");
            if (!sb.isEmpty()) sb.append(',');
            sb.append(key).append('=').append(v);
        }
        return sb.toString();
    }

    private static Validate parseValidate(String v) throws ConfigException {
        for (Validate x : Validate.values()) {
            if (x.key.equals(v)) return x;
        }
        throw bad(VALIDATE_KEY, v, Validate.ACCEPTED);
    }

    private static Mode parseMode(String v) throws ConfigException {
        for (Mode m : Mode.values()) {
            if (m.key.equals(v)) return m;
        }
        if (v.equals("off")) {
            throw new ConfigException(MODE_KEY, "pipellm: mode='off' is handled by the shim and never starts the"
                    + " agent (" + MODE_ENV + ", or agent option mode): accepted values here: " + Mode.ACCEPTED);
        }
        throw bad(MODE_KEY, v, Mode.ACCEPTED + " (off: the shim loads no agent)");
    }

    private static LogLevel parseLog(String v) throws ConfigException {
        for (LogLevel l : LogLevel.values()) {
            if (l.key().equals(v)) return l;
        }
        throw bad(LOG_KEY, v, "off, error, warn, info, debug");
    }

    private static long parseStatsInterval(String v) throws ConfigException {
        long n = parseLong(v);
        if (n < 0 || n > STATS_INTERVAL_MAX_MS) {
            throw bad(STATS_INTERVAL_KEY, v, "milliseconds as an integer from 0 (only at exit) to " + STATS_INTERVAL_MAX_MS);
        }
        return n;
    }

    private static ColdStart parseColdStart(String v) throws ConfigException {
        for (ColdStart c : ColdStart.values()) {
            if (c.key.equals(v)) return c;
        }
        throw bad(COLD_START_KEY, v, "openssl, agent");
    }

    private static boolean parseBool(String key, String v) throws ConfigException {
        return switch (v) {
            case "1", "true" -> true;
            case "0", "false" -> false;
            default -> throw bad(key, v, "0, 1, true, false");
        };
    }

    private static int parseWorkers(String v) throws ConfigException {
        long n = parseLong(v);
        if (n < WORKERS_MIN || n > WORKERS_MAX) {
            throw bad(WORKERS_KEY, v, "an integer from " + WORKERS_MIN + " to " + WORKERS_MAX);
        }
        return (int) n;
    }

    private static long parseBudget(String v) throws ConfigException {
        String accepted = "bytes as an integer with an optional K, M or G suffix (binary: 1K = 1024),"
                + " from 1M to 1024G";
        if (v.isEmpty()) throw bad(MEMORY_BUDGET_KEY, v, accepted);
        int shift = switch (Character.toUpperCase(v.charAt(v.length() - 1))) {
            case 'K' -> 10;
            case 'M' -> 20;
            case 'G' -> 30;
            default -> 0;
        };
        long n = parseLong(shift == 0 ? v : v.substring(0, v.length() - 1));
        if (n < 0 || n > (MEMORY_BUDGET_MAX_BYTES >> shift)) throw bad(MEMORY_BUDGET_KEY, v, accepted);
        long bytes = n << shift;
        if (bytes < MEMORY_BUDGET_MIN_BYTES) throw bad(MEMORY_BUDGET_KEY, v, accepted);
        return bytes;
    }

    private static FaultPoint faultPoint(String s) {
        for (FaultPoint p : FaultPoint.values()) {
            if (p != FaultPoint.NONE && p.key.equals(s)) return p;
        }
        return null;
    }

    /** A non-negative decimal integer, or -1. */
    private static long parseLong(String s) {
        if (s.isEmpty() || s.length() > 18) return -1;
        long n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') return -1;
            n = n * 10 + (c - '0');
        }
        return n;
    }

    private static String env(String key) {
        return "PIPELLM_" + key.toUpperCase(Locale.ROOT);
    }

    /** Same shape as the shim's line (shim_options.c), so users see one format. */
    private static ConfigException bad(String key, String value, String accepted) {
        return new ConfigException(key, "pipellm: " + key + "='" + value + "' is not valid (" + env(key)
                + ", or agent option " + key + "): accepted values: " + accepted);
    }

    public Mode mode() { return mode; }
    public LogLevel log() { return log; }
    /** Empty when no statistics file was asked for. */
    public String statsPath() { return statsPath; }
    /** 0: the statistics file is written only at exit. */
    public long statsIntervalMs() { return statsIntervalMs; }
    public boolean summary() { return summary; }
    public ColdStart coldStart() { return coldStart; }
    public boolean failClosed() { return failClosed; }
    public int workers() { return workers; }
    public long memoryBudgetBytes() { return memoryBudgetBytes; }
    public boolean jfr() { return jfr; }
    /** The copy trace to record (absolute), or empty. */
    public String tracePath() { return tracePath; }
    /** The pipeline's threads run in SCHED_IDLE (else as ordinary threads). */
    public boolean workerSchedIdle() { return workerSchedIdle; }

    public Validate validate() { return validate; }
    /** pipellm: pre-encryption pauses while it does not pay. */
    public boolean governor() { return governor; }
    /** TEST ONLY. */
    public FaultPoint faultPoint() { return faultPoint; }
    /** TEST ONLY: 1-based index of the agent-handled call that throws; 0 when no fault is set. */
    public long faultNth() { return faultNth; }

    /** For logs: every setting, never a secret (the options carry none). */
    @Override
    public String toString() {
        return "mode=" + mode.key + ",log=" + log.key() + ",stats=" + statsPath + ",stats_interval_ms=" + statsIntervalMs
                + ",summary=" + (summary ? 1 : 0) + ",cold_start=" + coldStart.key + ",fail_closed=" + (failClosed ? 1 : 0)
                + ",workers=" + workers + ",memory_budget=" + memoryBudgetBytes + ",validate=" + validate.key + ",worker_sched=" + (workerSchedIdle ? "idle" : "normal") + ",governor=" + (governor ? "on" : "off") + ",jfr=" + (jfr ? 1 : 0)
                + (faultPoint == FaultPoint.NONE ? "" : ",inject_fault=" + faultPoint.key + ":" + faultNth);
    }
}
