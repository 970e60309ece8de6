package dev.pipellm.agent.pipeline;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The shim's write tracking (native-shim/shim/shim_protect.h: userfaultfd async write-protection
 * and PAGEMAP_SCAN), reached by FFM downcalls to the exported {@code pl_protect_*} functions, found
 * with {@code dlsym(RTLD_DEFAULT)}: libpipellm.so is in the global scope in both roles (preloaded,
 * or promoted by Agent_OnLoad). Outside the shim (the agent's unit tests) there is none: {@link #find}
 * returns null and the pipeline compares.
 */
interface PageTracker {
    /** 0, or the shim's negative reason (PL_PROTECT_*) why tracking is not available or not exact. */
    int probe();

    /** Test only (inject_fault=no_uffd): the probe fails from now on. */
    void disable();

    /** Registers an allocation once; 0 or -errno (memory uffd cannot track exactly). */
    int track(long addr, long len);

    /** Undoes {@link #track} before the allocation is freed; 0 or -errno. */
    int untrack(long addr, long len);

    /** Arms {@code [addr, addr+len)}; writes up to {@code cap} (start, end) pairs of pages written since the last arm at {@code regions}; their count or -errno. */
    long arm(long addr, long len, long regions, int cap);

    /** Every page of the range is tracked and unwritten since its last arm. */
    boolean clean(long addr, long len);

    /** The shim's uffd functions, or null when the shim is not loaded in the global scope. */
    static PageTracker find() {
        return Native.lookup("pl_protect_");
    }

    /** The shim's mprotect functions (validate=mprotect), or null. */
    static PageTracker findMprotect() {
        return Native.lookup("pl_mprotect_");
    }

    /** What a negative {@link #probe} result means, for the log line. */
    static String reason(int code) {
        return switch (code) {
            case -1 -> "userfaultfd(2) is refused here (seccomp or no permission)";
            case -2 -> "the kernel lacks UFFD_FEATURE_WP_ASYNC (Linux >= 6.7)";
            case -3 -> "the kernel lacks the PAGEMAP_SCAN ioctl (Linux >= 6.7)";
            case -4 -> "the self-test saw a write that was not reported";
            case -5 -> "inject_fault=no_uffd (test only)";
            case -6 -> "libpipellm.so's read and sigaction are not the ones the process calls (mprotect needs the LD_PRELOAD role)";
            case Native.NOT_LOADED -> "libpipellm.so's pl_protect_* functions are not reachable";
            default -> "error " + code;
        };
    }

    final class Native implements PageTracker {
        static final int NOT_LOADED = -100;
        private static final Linker LINKER = Linker.nativeLinker();
        private static final ValueLayout.OfLong L = ValueLayout.JAVA_LONG;
        private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
        private final MethodHandle probe;
        private final MethodHandle disable;
        private final MethodHandle track;
        private final MethodHandle untrack;
        private final MethodHandle arm;
        private final MethodHandle clean;

        private Native(MethodHandle probe, MethodHandle disable, MethodHandle track, MethodHandle untrack, MethodHandle arm,
                       MethodHandle clean) {
            this.probe = probe;
            this.disable = disable;
            this.track = track;
            this.untrack = untrack;
            this.arm = arm;
            this.clean = clean;
        }

        static PageTracker lookup(String prefix) {
            try {
                MethodHandle dlsym = LINKER.downcallHandle(LINKER.defaultLookup().find("dlsym").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
                MemorySegment p = find(dlsym, prefix + "probe");
                // mprotect has no disable: its probe is never injected to fail (it is chosen only explicitly)
                MemorySegment d = prefix.equals("pl_protect_") ? find(dlsym, "pl_protect_disable") : p;
                MemorySegment t = find(dlsym, prefix + "track");
                MemorySegment u = find(dlsym, prefix + "untrack");
                MemorySegment a = find(dlsym, prefix + "arm");
                MemorySegment c = find(dlsym, prefix + "clean");
                if (p == null || d == null || t == null || u == null || a == null || c == null) return null;
                // the checks are short, never block and never call back into Java: critical downcalls
                Linker.Option fast = Linker.Option.critical(false);
                return new Native(
                        LINKER.downcallHandle(p, FunctionDescriptor.of(I)),
                        prefix.equals("pl_protect_") ? LINKER.downcallHandle(d, FunctionDescriptor.ofVoid()) : null,
                        LINKER.downcallHandle(t, FunctionDescriptor.of(I, L, L)),
                        LINKER.downcallHandle(u, FunctionDescriptor.of(I, L, L)),
                        LINKER.downcallHandle(a, FunctionDescriptor.of(L, L, L, L, I), fast),
                        LINKER.downcallHandle(c, FunctionDescriptor.of(I, L, L), fast));
            } catch (Throwable e) {
                return null;
            }
        }

        private static MemorySegment find(MethodHandle dlsym, String name) throws Throwable {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment s = (MemorySegment) dlsym.invokeExact(MemorySegment.NULL, arena.allocateFrom(name));
                return s.address() == 0 ? null : s;
            }
        }

        @Override
        public int probe() {
            try {
                return (int) probe.invokeExact();
            } catch (Throwable t) {
                return NOT_LOADED;
            }
        }

        @Override
        public void disable() {
            if (disable == null) return;
            try {
                disable.invokeExact();
            } catch (Throwable t) {
                throw new IllegalStateException("pl_protect_disable", t);
            }
        }

        @Override
        public int track(long addr, long len) {
            try {
                return (int) track.invokeExact(addr, len);
            } catch (Throwable t) {
                return -1;
            }
        }

        @Override
        public int untrack(long addr, long len) {
            try {
                return (int) untrack.invokeExact(addr, len);
            } catch (Throwable t) {
                return -1;
            }
        }

        @Override
        public long arm(long addr, long len, long regions, int cap) {
            try {
                return (long) arm.invokeExact(addr, len, regions, cap);
            } catch (Throwable t) {
                return -1;
            }
        }

        @Override
        public boolean clean(long addr, long len) {
            try {
                return (int) clean.invokeExact(addr, len) == 1;
            } catch (Throwable t) {
                return false;
            }
        }
    }
}
