package dev.pipellm.bench.micro;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The FFM path every intercepted call takes into the agent: a native call through an upcall stub with the shape
 * of the shim's {@code on_copy} (int (int, 6 x long, int, long)), into a Java method and back. Here the caller is
 * a Java downcall through the stub's address, so the figure is the round trip C code pays minus the shim's few
 * instructions, without the agent's own work (BridgeTest times the agent's on_copy the same way).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class UpcallRoundTripBenchmark {
    private static final FunctionDescriptor ON_COPY = FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
            ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
            ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG);
    /** The stub lives as long as the JVM: its address is a constant, as the shim's table entry is. */
    private static final MethodHandle CALL;
    private static long sink;

    static {
        try {
            final Linker linker = Linker.nativeLinker();
            final MethodHandle target = MethodHandles.lookup().findStatic(UpcallRoundTripBenchmark.class, "onCopy",
                    MethodType.methodType(int.class, int.class, long.class, long.class, long.class, long.class,
                            long.class, long.class, int.class, long.class));
            final MemorySegment stub = linker.upcallStub(target, ON_COPY, Arena.global());
            CALL = linker.downcallHandle(stub, ON_COPY);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    static int onCopy(int kind, long dst, long dpitch, long src, long spitch, long width, long height, int async,
                      long stream) {
        sink += width; // what the agent's counters do: one plain field update
        return 0;
    }

    @Benchmark
    public int onCopyRoundTrip() throws Throwable {
        return (int) CALL.invokeExact(1, 0x10L, 64L, 0x20L, 64L, 64L, 1L, 1, 0L);
    }
}
