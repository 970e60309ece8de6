package dev.pipellm.agent.evp;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Puts the calling thread in Linux's SCHED_IDLE class: it runs only on a CPU nothing else wants.
 * The warm-up ({@link EngineWarmUp}) must never take a core from the copies it is meant to speed
 * up: on a machine whose cores are busy encrypting and copying, a normal-priority warm-up thread
 * made the first seconds of copies slower than without PipeLLM. Java thread priorities do not map
 * to Linux scheduling by default, hence the system call.
 */
public final class IdleScheduling {
    private static final int SCHED_IDLE = 5;

    private IdleScheduling() {}

    /** True when the calling thread now runs in SCHED_IDLE. */
    public static boolean enterIdleClass() {
        try {
            Linker linker = Linker.nativeLinker();
            var libc = linker.defaultLookup();
            MethodHandle gettid = linker.downcallHandle(libc.find("gettid").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT));
            MethodHandle setScheduler = linker.downcallHandle(libc.find("sched_setscheduler").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                            ValueLayout.ADDRESS));
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment param = arena.allocate(ValueLayout.JAVA_INT);   // struct sched_param { 0 }
                int tid = (int) gettid.invokeExact();
                return (int) setScheduler.invokeExact(tid, SCHED_IDLE, param) == 0;
            }
        } catch (Throwable t) {
            return false;   // then it competes like any thread: slower copies while warming, never wrong ones
        }
    }
}
