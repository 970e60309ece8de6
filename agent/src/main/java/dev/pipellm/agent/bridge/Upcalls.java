package dev.pipellm.agent.bridge;

import dev.pipellm.agent.evp.EvpMessages;
import dev.pipellm.agent.stats.StatCounter;

/**
 * The upcall targets: one static method per {@code pl_upcalls} function pointer (shim_bridge.h), with
 * the C signature in primitives (pointers and size_t as {@code long}). Each catches every Throwable
 * (one escaping an upcall kills the process), counts it in {@code agent_errors}, records it once, and
 * returns the safe answer. Nothing here allocates after warm-up or logs.
 *
 * <p>The safe answer of an EVP call that failed outside {@link EvpMessages}'s own handling is 0 (the
 * call fails) in sync mode, not PL_PASS: once the agent has written part of a message, the real
 * context cannot continue it, and a refused call is better than wrong bytes. In passthrough mode it is
 * PL_PASS.
 *
 * <p>{@link #runtime} is written once, by {@link Bridge#bootstrap} before the table address is
 * returned to C (tests install their own); the JNI return and the shim's publication of the table order
 * it before any upcall.
 */
public final class Upcalls {
    private static final int PASS = EvpMessages.PASS;
    static AgentRuntime runtime;

    private Upcalls() {}

    static void install(AgentRuntime rt) {
        runtime = rt;
    }

    /** pl_upcalls.on_copy: returns 0 (C calls the real copy) or a cudaError_t. */
    public static int onCopy(int api, long dst, long dpitch, long src, long spitch, long width, long height, int kind,
                             long stream) {
        try {
            runtime.counters.increment(StatCounter.INTERCEPTED_COPIES);
            return runtime.copies.beforeCopy(api, dst, dpitch, src, spitch, width, height, kind, stream);
        } catch (Throwable t) {
            error("on_copy", t);
            return 0;
        }
    }

    /** pl_upcalls.after_copy: once per copy on_copy let through. */
    public static void afterCopy(int api, long dst, long src, long width, long height, int kind, long stream,
                                 int result) {
        try {
            runtime.copies.afterCopy(api, dst, src, width, height, kind, stream, result);
        } catch (Throwable t) {
            error("after_copy", t);
        }
    }

    /** pl_upcalls.before_sync. */
    public static void beforeSync(int api, long a, long b) {
        try {
            runtime.copies.beforeSync(api, a, b);
        } catch (Throwable t) {
            error("before_sync", t);
        }
    }

    /** pl_upcalls.on_sync. */
    public static void onSync(int api, long a, long b, int result) {
        try {
            runtime.counters.increment(StatCounter.INTERCEPTED_SYNCS);
            runtime.copies.afterSync(api, a, b, result);
        } catch (Throwable t) {
            error("on_sync", t);
        }
    }

    /** pl_upcalls.on_alloc. */
    public static void onAlloc(int api, long ptr, long bytes, int result) {
        try {
            runtime.counters.increment(StatCounter.INTERCEPTED_ALLOCS);
            runtime.copies.afterAlloc(api, ptr, bytes, result);
        } catch (Throwable t) {
            error("on_alloc", t);
        }
    }

    /** pl_upcalls.evp_init: after the real init returned 1. PL_PASS, or 0 to fail the init. */
    public static int evpInit(long ctx, int enc, int cipherKind, long key, long iv) {
        try {
            return runtime.evp.init(ctx, enc, cipherKind, key, iv);
        } catch (Throwable t) {
            error("evp_init", t);
            return failClosed() ? 0 : PASS;
        }
    }

    /** pl_upcalls.evp_update. */
    public static int evpUpdate(long ctx, int enc, long out, long outl, long in, int inl) {
        try {
            return runtime.evp.update(ctx, enc, out, outl, in, inl);
        } catch (Throwable t) {
            error("evp_update", t);
            return safeEvpAnswer();
        }
    }

    /** pl_upcalls.evp_final. */
    public static int evpFinal(long ctx, int enc, long out, long outl) {
        try {
            return runtime.evp.finish(ctx, enc, out, outl);
        } catch (Throwable t) {
            error("evp_final", t);
            return safeEvpAnswer();
        }
    }

    /** pl_upcalls.evp_ctrl. */
    public static int evpCtrl(long ctx, int type, int arg, long ptr) {
        try {
            return runtime.evp.ctrl(ctx, type, arg, ptr);
        } catch (Throwable t) {
            error("evp_ctrl", t);
            return safeEvpAnswer();
        }
    }

    /** pl_upcalls.evp_drop: before a driver call the agent does not emulate (pl_drop). */
    public static int evpDrop(long ctx, int how) {
        try {
            return runtime.evp.drop(ctx, how);
        } catch (Throwable t) {
            error("evp_drop", t);
            // nothing is lost by a failed forget; a failed hand-over must not let OpenSSL go on blind
            return how == EvpMessages.DROP_FORGET ? PASS : safeEvpAnswer();
        }
    }

    /** pl_upcalls.on_exit: flush statistics (idempotent; also the shutdown hook under -agentpath). */
    public static void onExit() {
        try {
            AgentRuntime rt = runtime;
            if (rt != null) rt.exit();
        } catch (Throwable t) {
            error("on_exit", t);
        }
    }

    private static boolean failClosed() {
        try {
            return runtime.config.failClosed();
        } catch (Throwable t) {
            return false;
        }
    }

    private static int safeEvpAnswer() {
        try {
            return runtime.config.mode().agentCrypto() ? 0 : PASS;
        } catch (Throwable t) {
            return 0;
        }
    }

    private static void error(String where, Throwable t) {
        try {
            AgentRuntime rt = runtime;
            if (rt == null) return;
            rt.counters.increment(StatCounter.AGENT_ERRORS);
            rt.errors.record(where, t);
        } catch (Throwable ignored) {
            // nothing may escape an upcall
        }
    }
}
