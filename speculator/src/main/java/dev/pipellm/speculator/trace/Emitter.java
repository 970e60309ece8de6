package dev.pipellm.speculator.trace;

import dev.pipellm.speculator.event.CopyDirection;
import dev.pipellm.speculator.event.EventType;

/** Convenience wrapper generators use to emit typed events into a {@link TraceSink}. */
final class Emitter {
    private final TraceSink sink;
    private final int thread;

    Emitter(TraceSink sink, int thread) {
        this.sink = sink;
        this.thread = thread;
    }

    void h2d(long host, long device, long bytes, int stream, int copyClass) {
        sink.onEvent(EventType.COPY, CopyDirection.H2D, host, device, bytes, stream, thread, copyClass);
    }

    void d2h(long host, long device, long bytes, int stream, int copyClass) {
        sink.onEvent(EventType.COPY, CopyDirection.D2H, host, device, bytes, stream, thread, copyClass);
    }

    /** The CPU wrote [host, host+bytes): seen by write tracking; the next copy from there carries fresh data. */
    void hostWrite(long host, long bytes) {
        sink.onEvent(EventType.HOST_WRITE, CopyDirection.NONE, host, 0, bytes, -1, thread, CopyClass.NONE);
    }

    void hostAlloc(long host, long bytes) {
        sink.onEvent(EventType.HOST_ALLOC, CopyDirection.NONE, host, 0, bytes, -1, thread, CopyClass.NONE);
    }

    void sync(int stream) {
        sink.onEvent(EventType.SYNC, CopyDirection.NONE, 0, 0, 0, stream, thread, CopyClass.NONE);
    }

    void hint(long host, long bytes) {
        sink.onEvent(EventType.HINT, CopyDirection.NONE, host, 0, bytes, -1, thread, CopyClass.NONE);
    }

    void mark(long id) {
        sink.onEvent(EventType.MARK, CopyDirection.NONE, 0, 0, id, -1, thread, CopyClass.NONE);
    }
}
