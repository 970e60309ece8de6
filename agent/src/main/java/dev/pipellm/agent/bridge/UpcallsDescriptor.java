package dev.pipellm.agent.bridge;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * Off-heap layout of {@code struct pl_upcalls} (shim_bridge.h, PL_BRIDGE_VERSION 3), natural alignment:
 * <pre>
 *   0                   4                   8                   12                  16
 *   +-------------------+-------------------+-------------------+-------------------+
 *   | int32 version     | int32 mode        | int32 fail_closed | int32 size        |
 *   +-------------------+-------------------+-------------------+-------------------+
 *   16 on_copy | 24 after_copy | 32 before_sync | 40 on_sync | 48 on_alloc | 56 evp_init |
 *   64 evp_update | 72 evp_final | 80 evp_ctrl | 88 evp_drop | 96 on_exit  (pointers, 8 bytes) = 104
 * </pre>
 * {@code size} is this layout's byte size: the shim refuses a table whose size differs from its own
 * {@code sizeof(pl_upcalls)} (a jar and a shim from different builds).
 * Pointer and size_t parameters are declared {@code JAVA_LONG} (not {@code ADDRESS}) so the targets get
 * a primitive and no {@code MemorySegment} is created per call; on the SysV x86-64 and AAPCS64 ABIs a
 * pointer and a 64-bit integer travel in the same registers.
 */
final class UpcallsDescriptor {
    static final int BRIDGE_VERSION = 3;

    static final String[] FUNCTIONS = {
        "on_copy", "after_copy", "before_sync", "on_sync", "on_alloc", "evp_init", "evp_update", "evp_final", "evp_ctrl", "evp_drop", "on_exit"};

    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            ValueLayout.JAVA_INT.withName("version"),
            ValueLayout.JAVA_INT.withName("mode"),
            ValueLayout.JAVA_INT.withName("fail_closed"),
            ValueLayout.JAVA_INT.withName("size"),
            ValueLayout.ADDRESS.withName("on_copy"),
            ValueLayout.ADDRESS.withName("after_copy"),
            ValueLayout.ADDRESS.withName("before_sync"),
            ValueLayout.ADDRESS.withName("on_sync"),
            ValueLayout.ADDRESS.withName("on_alloc"),
            ValueLayout.ADDRESS.withName("evp_init"),
            ValueLayout.ADDRESS.withName("evp_update"),
            ValueLayout.ADDRESS.withName("evp_final"),
            ValueLayout.ADDRESS.withName("evp_ctrl"),
            ValueLayout.ADDRESS.withName("evp_drop"),
            ValueLayout.ADDRESS.withName("on_exit")).withName("pl_upcalls");

    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong L = ValueLayout.JAVA_LONG;

    static final FunctionDescriptor ON_COPY = FunctionDescriptor.of(I, I, L, L, L, L, L, L, I, L);
    static final FunctionDescriptor AFTER_COPY = FunctionDescriptor.ofVoid(I, L, L, L, L, I, L, I);
    static final FunctionDescriptor BEFORE_SYNC = FunctionDescriptor.ofVoid(I, L, L);
    static final FunctionDescriptor ON_SYNC = FunctionDescriptor.ofVoid(I, L, L, I);
    static final FunctionDescriptor ON_ALLOC = FunctionDescriptor.ofVoid(I, L, L, I);
    static final FunctionDescriptor EVP_INIT = FunctionDescriptor.of(I, L, I, I, L, L);
    static final FunctionDescriptor EVP_UPDATE = FunctionDescriptor.of(I, L, I, L, L, L, I);
    static final FunctionDescriptor EVP_FINAL = FunctionDescriptor.of(I, L, I, L, L);
    static final FunctionDescriptor EVP_CTRL = FunctionDescriptor.of(I, L, I, I, L);
    static final FunctionDescriptor EVP_DROP = FunctionDescriptor.of(I, L, I);
    static final FunctionDescriptor ON_EXIT = FunctionDescriptor.ofVoid();

    private UpcallsDescriptor() {}

    static long offset(String field) {
        return LAYOUT.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }

    /** Allocates and fills a pl_upcalls in {@code arena}; returns it. */
    static MemorySegment create(Arena arena, int mode, boolean failClosed) throws ReflectiveOperationException {
        Linker linker = Linker.nativeLinker();
        MemorySegment s = arena.allocate(LAYOUT);
        s.set(I, offset("version"), BRIDGE_VERSION);
        s.set(I, offset("mode"), mode);
        s.set(I, offset("fail_closed"), failClosed ? 1 : 0);
        s.set(I, offset("size"), (int) LAYOUT.byteSize());
        put(s, linker, arena, "on_copy", "onCopy", ON_COPY);
        put(s, linker, arena, "after_copy", "afterCopy", AFTER_COPY);
        put(s, linker, arena, "before_sync", "beforeSync", BEFORE_SYNC);
        put(s, linker, arena, "on_sync", "onSync", ON_SYNC);
        put(s, linker, arena, "on_alloc", "onAlloc", ON_ALLOC);
        put(s, linker, arena, "evp_init", "evpInit", EVP_INIT);
        put(s, linker, arena, "evp_update", "evpUpdate", EVP_UPDATE);
        put(s, linker, arena, "evp_final", "evpFinal", EVP_FINAL);
        put(s, linker, arena, "evp_ctrl", "evpCtrl", EVP_CTRL);
        put(s, linker, arena, "evp_drop", "evpDrop", EVP_DROP);
        put(s, linker, arena, "on_exit", "onExit", ON_EXIT);
        return s;
    }

    private static void put(MemorySegment s, Linker linker, Arena arena, String field, String method,
                            FunctionDescriptor fd) throws ReflectiveOperationException {
        MethodType type = fd.toMethodType();
        MethodHandle target = MethodHandles.lookup().findStatic(Upcalls.class, method, type);
        MemorySegment stub = linker.upcallStub(target, fd, arena);
        s.set(ValueLayout.ADDRESS, offset(field), stub);
    }
}
