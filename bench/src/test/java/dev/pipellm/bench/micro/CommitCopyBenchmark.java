package dev.pipellm.bench.micro;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The per-byte work of a commit on the app's thread (agent/.../pipeline/Slot.commitTo and SlotValidator): libc
 * {@code memcmp} of the source with the slot's snapshot, then {@code memcpy} of the ciphertext into the driver's
 * buffer, both as critical FFM downcalls as NativeBytes makes them, off-heap. {@code compareAndCopy} is a commit
 * (validation by compare); {@code copyOnly} is what a commit would cost with validation by page protection. Each
 * buffer set is 16 messages apart, so that large messages come from DRAM as a stream of copies does.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class CommitCopyBenchmark {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final ValueLayout.OfLong L = ValueLayout.JAVA_LONG;
    private static final MethodHandle MEMCMP = LINKER.downcallHandle(LINKER.defaultLookup().find("memcmp")
            .orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT, L, L, L), Linker.Option.critical(false));
    private static final MethodHandle MEMCPY = LINKER.downcallHandle(LINKER.defaultLookup().find("memcpy")
            .orElseThrow(), FunctionDescriptor.of(L, L, L, L), Linker.Option.critical(false));
    private static final int SETS = 16;

    @Param({"65536", "1048576"})
    public int size;

    private Arena arena;
    private long src;
    private long snapshot;
    private long cipher;
    private long out;
    private int next;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        final MemorySegment s = arena.allocate((long) size * SETS, 4096);
        final MemorySegment p = arena.allocate((long) size * SETS, 4096);
        final MemorySegment c = arena.allocate((long) size * SETS, 4096);
        final MemorySegment o = arena.allocate((long) size * SETS, 4096);
        s.fill((byte) 7);
        p.fill((byte) 7);
        c.fill((byte) 9);
        o.fill((byte) 0);
        src = s.address();
        snapshot = p.address();
        cipher = c.address();
        out = o.address();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public long compareAndCopy() throws Throwable {
        final long off = (long) size * (next++ & (SETS - 1));
        final int cmp = (int) MEMCMP.invokeExact(src + off, snapshot + off, (long) size);
        if (cmp != 0) {
            throw new IllegalStateException("snapshot differs");
        }
        return (long) MEMCPY.invokeExact(out + off, cipher + off, (long) size);
    }

    @Benchmark
    public long copyOnly() throws Throwable {
        final long off = (long) size * (next++ & (SETS - 1));
        return (long) MEMCPY.invokeExact(out + off, cipher + off, (long) size);
    }
}
