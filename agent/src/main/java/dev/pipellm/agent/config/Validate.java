package dev.pipellm.agent.config;

/**
 * How the pipeline knows, at commit, that a slot's plaintext is unchanged since it was encrypted
 * ({@code validate=...}, docs/architecture.md "Validation"). Every mode is exact: a slot whose
 * source was written after its encryption began is never committed.
 */
public enum Validate {
    /** The fastest exact mode this host offers, chosen at start and logged: uffd if its probe passes, else compare. */
    AUTO("auto"),
    /**
     * userfaultfd asynchronous write-protection read with PAGEMAP_SCAN (Linux >= 6.7): the commit
     * checks the page tables instead of the bytes, and tracked slots keep no plaintext snapshot.
     * Where the probe fails it falls back to compare with a warning.
     */
    UFFD("uffd"),
    /**
     * The paper's page protection: source pages mprotect(PROT_READ) once armed, a SIGSEGV handler
     * chained ahead of the JVM's and the host's, and interposed read/recv/fread calls (the kernel's
     * own writes into a protected page would fail with EFAULT). Explicit only, LD_PRELOAD role only;
     * not exact for io_uring, AIO, O_DIRECT or other processes' writes (docs/architecture.md).
     */
    MPROTECT("mprotect"),
    /** The worker's private plaintext snapshot, compared with the source at commit (libc memcmp). */
    COMPARE("compare");

    /** The values accepted, for the one-line error. */
    public static final String ACCEPTED = "auto, uffd, mprotect, compare";

    public final String key;

    Validate(String key) {
        this.key = key;
    }
}
