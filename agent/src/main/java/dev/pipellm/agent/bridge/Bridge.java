package dev.pipellm.agent.bridge;

import dev.pipellm.agent.config.Config;
import dev.pipellm.agent.config.ConfigException;
import dev.pipellm.agent.config.FaultPoint;
import dev.pipellm.agent.config.Mode;
import dev.pipellm.agent.evp.HookIds;
import dev.pipellm.agent.evp.RealEvp;
import dev.pipellm.agent.log.AgentLog;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The agent's one JNI entry point. libpipellm.so calls {@link #bootstrap} once per process
 * (JNI signature {@code (JILjava/lang/String;Ljava/lang/String;I)J}) and from then on only calls the
 * FFM upcall stubs in the returned {@code pl_upcalls} ({@link Upcalls}).
 */
public final class Bridge {
    /** shim_bridge.h pl_role. */
    public static final int ROLE_PRELOAD = 0;
    public static final int ROLE_AGENTPATH = 1;
    public static final int ROLE_JOINED = 2;

    private static long upcalls;

    private Bridge() {}

    /** Tests only: forget the bootstrap so the next call starts again (the old stubs stay allocated). */
    static synchronized void resetForTests() {
        upcalls = 0;
    }

    /**
     * Validates the options without starting anything: the shim calls it at VMInit under
     * {@code -agentpath} (JNI signature {@code (Ljava/lang/String;I)Z}), so a bad option is reported
     * when the JVM starts, not at its first CUDA call. Prints the one line naming the bad key and
     * returns false; or logs (info) that the agent is loaded and returns true.
     */
    public static boolean validate(String options, int role) {
        try {
            Config config = Config.parse(options);
            AgentLog.configure(config.log());
            AgentLog.logger().info("pipellm: agent loaded (role {}), it starts at the first CUDA call: {}", role, config);
            return true;
        } catch (ConfigException e) {
            System.err.println(e.getMessage());
            return false;
        } catch (Throwable t) {
            try {
                System.err.println("pipellm: the agent's options could not be checked: " + t);
            } catch (Throwable ignored) {
                // nothing may escape to JNI
            }
            return false;
        }
    }

    /**
     * Starts the agent.
     *
     * @param realTable address of {@code void *real[realCount]}, the real functions in hook order
     *                  (entries may be NULL and filled later; the agent reads them when needed)
     * @param realCount number of entries
     * @param hookNames comma-separated hook names in table order (shim_hooks.def)
     * @param options   {@code key=value,...} merged by the shim (see {@link Config})
     * @param role      pl_role
     * @return address of a {@code pl_upcalls} in {@code Arena.global()}, or 0 if the agent refuses to
     *         start (bad option: one stderr line naming the key). A second call returns the first
     *         call's address and ignores its arguments.
     */
    public static synchronized long bootstrap(long realTable, int realCount, String hookNames, String options, int role) {
        try {
            if (upcalls != 0) return upcalls;
            Config config;
            try {
                config = Config.parse(options);
            } catch (ConfigException e) {
                System.err.println(e.getMessage());
                return 0;
            }
            if (realCount < 0 || (realCount > 0 && realTable == 0) || role < ROLE_PRELOAD || role > ROLE_JOINED) {
                System.err.println("pipellm: agent bootstrap called with an invalid real-function table or role"
                        + " (realCount=" + realCount + ", role=" + role + "); the agent does not start");
                return 0;
            }
            AgentLog.configure(config.log());
            HookIds ids = HookIds.parse(hookNames, realCount);
            String missing = ids.missingEvp();
            if (config.mode().agentCrypto() && !missing.isEmpty()) {
                AgentLog.logger().warn("pipellm: the shim's table lacks {}: a message the agent cannot finish"
                        + " will be refused instead of replayed through OpenSSL", missing);
            }
            AgentRuntime rt = new AgentRuntime(config, new RealEvp(realTable, ids), role);
            Upcalls.install(rt);
            MemorySegment table = UpcallsDescriptor.create(Arena.global(), config.mode().nativeValue, config.failClosed());
            if (role == ROLE_AGENTPATH || role == ROLE_JOINED) {
                Runtime.getRuntime().addShutdownHook(new Thread(Upcalls::onExit, "pipellm-exit"));
            }
            if (config.faultPoint() != FaultPoint.NONE) {
                AgentLog.logger().warn("pipellm: inject_fault={}:{} is set: TEST ONLY, an agent fault will be"
                        + " injected", config.faultPoint().key, config.faultNth());
            }
            rt.startBackground();
            AgentLog.logger().info("pipellm: agent started (role {}): {}", role, config);
            upcalls = table.address();
            return upcalls;
        } catch (Throwable t) {
            try {
                System.err.println("pipellm: the agent failed to start: " + t);
            } catch (Throwable ignored) {
                // nothing may escape to JNI
            }
            return 0;
        }
    }
}
