package dev.pipellm.agent.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pipellm.agent.stats.StatCounter;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class BridgeTest {
    @Test
    void shouldReturnAFilledUpcallTableOnceAndTheSameAddressAfter() throws Throwable {
        List<String> names = OpenSsl.hookNames();
        MemorySegment real = OpenSsl.realTable(names);
        String hooks = String.join(",", names);
        synchronized (Bridge.class) {
            Bridge.resetForTests();
            String err = captureStderr(() -> assertEquals(0, Bridge.bootstrap(real.address(), names.size(), hooks,
                    "mode=sync,workers=0", Bridge.ROLE_PRELOAD)));
            assertTrue(err.contains("workers='0'") && err.contains("PIPELLM_WORKERS"), err);
            assertEquals(1, err.strip().lines().count(), "one line: " + err);

            long addr = Bridge.bootstrap(real.address(), names.size(), hooks, "mode=sync,fail_closed=1,log=error",
                    Bridge.ROLE_PRELOAD);
            assertNotEquals(0, addr);
            assertEquals(addr, Bridge.bootstrap(real.address(), names.size(), hooks, "mode=passthrough", 0));

            MemorySegment t = MemorySegment.ofAddress(addr).reinterpret(UpcallsDescriptor.LAYOUT.byteSize());
            assertEquals(104, UpcallsDescriptor.LAYOUT.byteSize());
            assertEquals(3, t.get(ValueLayout.JAVA_INT, 0), "version");
            assertEquals(2, t.get(ValueLayout.JAVA_INT, 4), "mode sync");
            assertEquals(1, t.get(ValueLayout.JAVA_INT, 8), "fail_closed");
            assertEquals(104, t.get(ValueLayout.JAVA_INT, 12), "size");
            for (int i = 0; i < UpcallsDescriptor.FUNCTIONS.length; i++) {
                assertNotEquals(0L, t.get(ValueLayout.JAVA_LONG, 16 + 8L * i), UpcallsDescriptor.FUNCTIONS[i]);
                assertEquals(16 + 8L * i, UpcallsDescriptor.offset(UpcallsDescriptor.FUNCTIONS[i]));
            }

            // call the stubs the way C does: through native function pointers
            Linker linker = Linker.nativeLinker();
            stubOnCopy = t.get(ValueLayout.JAVA_LONG, 16);
            MethodHandle evpCtrl = linker.downcallHandle(MemorySegment.ofAddress(t.get(ValueLayout.JAVA_LONG, UpcallsDescriptor.offset("evp_ctrl"))),
                    UpcallsDescriptor.EVP_CTRL);
            MethodHandle onExit = linker.downcallHandle(MemorySegment.ofAddress(t.get(ValueLayout.JAVA_LONG, UpcallsDescriptor.offset("on_exit"))),
                    FunctionDescriptor.ofVoid());
            long copies0 = Upcalls.runtime.counters().get(StatCounter.INTERCEPTED_COPIES);
            int n = 200_000;
            for (int round = 0; round < 3; round++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    int r = (int) Stub.ON_COPY.invokeExact(1, 0x10L, 64L, 0x20L, 64L, 64L, 1L, 1, 0L);
                    if (r != 0) throw new AssertionError(r);
                }
                long dt = System.nanoTime() - t0;
                if (round == 2) System.out.printf("Java downcall -> on_copy upcall stub -> Java and back: %.1f ns per call%n", (double) dt / n);
            }
            assertEquals(copies0 + 3L * n, Upcalls.runtime.counters().get(StatCounter.INTERCEPTED_COPIES));
            assertEquals(-1, (int) evpCtrl.invokeExact(0x1234L, 0x10, 16, 0L), "unknown context: PL_PASS");
            onExit.invokeExact();
        }
    }

    static long stubOnCopy;

    /** Static final handle (constant for the JIT), made once the stub address is known. */
    private static final class Stub {
        static final MethodHandle ON_COPY = Linker.nativeLinker().downcallHandle(MemorySegment.ofAddress(stubOnCopy),
                UpcallsDescriptor.ON_COPY);
    }

    static String captureStderr(Runnable r) {
        PrintStream old = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            r.run();
        } finally {
            System.setErr(old);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }
}
