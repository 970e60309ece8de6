package dev.pipellm.bench.trace;

import dev.pipellm.speculator.event.CopyDirection;
import dev.pipellm.speculator.event.EventType;
import dev.pipellm.speculator.trace.TraceSink;

/**
 * Adapts the speculator's {@link TraceSink} (what its trace generators emit) to the trace format:
 * <ul>
 *   <li>COPY becomes an asynchronous COPY on the generator's stream (h2d, d2h, d2d kinds); the pinned flag is set
 *       when the host side lies in a range announced by HOST_ALLOC (pinned caching-allocator blocks);</li>
 *   <li>HOST_ALLOC / HOST_FREE become ALLOC / FREE of pinned host memory, DEVICE_ALLOC / DEVICE_FREE of device
 *       memory; host and device ranges the generator never announces are the player's to allocate
 *       (docs/trace-format.md, "implicit regions");</li>
 *   <li>SYNC with stream -1 becomes SYNC_DEVICE, otherwise SYNC_STREAM; HOST_WRITE and MARK stay;</li>
 *   <li>HINT / HINT_CLEAR are dropped: they are not CUDA calls.</li>
 * </ul>
 * The {@link StepModel} inserts COMPUTE (and a SYNC_STREAM after a blocking read) where the workload computes.
 */
public final class GeneratedTraceSink implements TraceSink {
    private final TraceWriter out;
    private final StepModel model;
    private final java.util.TreeMap<Long, Long> pinned = new java.util.TreeMap<>();
    private long computeRecords;
    private long computeNs;

    public GeneratedTraceSink(TraceWriter out, StepModel model) {
        this.out = out;
        this.model = model;
    }

    public long computeRecords() {
        return computeRecords;
    }

    public long computeNs() {
        return computeNs;
    }

    @Override
    public void onEvent(int type, int direction, long hostAddress, long deviceAddress, long bytes, int stream,
                        int thread, int copyClass) {
        final long ns = model.computeBefore(type, direction, bytes, stream, copyClass);
        if (ns > 0) {
            out.compute(model.computeStream(), ns);
            computeRecords++;
            computeNs += ns;
        }
        switch (type) {
            case EventType.COPY -> copy(direction, hostAddress, deviceAddress, bytes, stream);
            case EventType.HOST_ALLOC -> {
                out.alloc(TraceFormat.MEM_HOST_PINNED, hostAddress, bytes);
                pinned.put(hostAddress, bytes);
            }
            case EventType.HOST_FREE -> {
                out.free(TraceFormat.MEM_HOST_PINNED, hostAddress);
                pinned.remove(hostAddress);
            }
            case EventType.DEVICE_ALLOC -> out.alloc(TraceFormat.MEM_DEVICE, deviceAddress, bytes);
            case EventType.DEVICE_FREE -> out.free(TraceFormat.MEM_DEVICE, deviceAddress);
            case EventType.SYNC -> {
                if (stream < 0) {
                    out.syncDevice();
                } else {
                    out.syncStream(stream);
                }
            }
            case EventType.HOST_WRITE -> out.hostWrite(hostAddress, bytes);
            case EventType.MARK -> out.mark(bytes);
            case EventType.HINT, EventType.HINT_CLEAR -> {
            }
            default -> throw new IllegalArgumentException("generated trace: unknown event type " + type);
        }
        if (model.syncAfter(type, direction, bytes, stream, copyClass)) {
            out.syncStream(model.computeStream());
        }
    }

    private void copy(int direction, long host, long device, long bytes, int stream) {
        switch (direction) {
            case CopyDirection.H2D -> out.copy(TraceFormat.KIND_H2D, flags(host, bytes), stream, device, host, bytes);
            case CopyDirection.D2H -> out.copy(TraceFormat.KIND_D2H, flags(host, bytes), stream, host, device, bytes);
            case CopyDirection.D2D -> out.copy(TraceFormat.KIND_D2D, TraceFormat.FLAG_ASYNC, stream, device, host,
                    bytes);
            default -> throw new IllegalArgumentException("generated trace: copy direction " + direction);
        }
    }

    private int flags(long host, long bytes) {
        final var e = pinned.floorEntry(host);
        final boolean inPinned = e != null && host + bytes <= e.getKey() + e.getValue();
        return TraceFormat.FLAG_ASYNC | (inPinned ? TraceFormat.FLAG_PINNED : 0);
    }
}
