package dev.pipellm.bench.trace;

import java.nio.file.Path;
import java.util.TreeMap;

/**
 * Copy statistics of a trace: copies and bytes per direction (a {@code cudaMemcpyDefault} copy takes its direction
 * from the device allocations the trace announced), plus synchronisations, host writes, compute and delays. The
 * same keys as simgpu's statistics ({@code h2d_copies}, {@code h2d_bytes}, ...), so a recorded run, its trace and
 * the trace's replay can be compared number by number.
 */
public final class TraceStats {
    public long records;
    public long h2dCopies;
    public long h2dBytes;
    public long d2hCopies;
    public long d2hBytes;
    public long d2dCopies;
    public long d2dBytes;
    public long h2hCopies;
    public long h2hBytes;
    public long syncs;
    public long hostWrites;
    public long hostWriteBytes;
    public long computeNs;
    public long delayNs;
    public long allocs;

    public static TraceStats of(Path file) {
        try (TraceReader r = TraceReader.open(file)) {
            return of(r);
        }
    }

    public static TraceStats of(TraceReader r) {
        final TraceStats s = new TraceStats();
        final TreeMap<Long, Long> device = new TreeMap<>();
        TraceRecord rec;
        while ((rec = r.next()) != null) {
            s.records++;
            switch (rec.type()) {
                case TraceFormat.ALLOC -> {
                    s.allocs++;
                    if (rec.field(0) == TraceFormat.MEM_DEVICE) {
                        device.put(rec.field(1), rec.field(2));
                    }
                }
                case TraceFormat.FREE -> {
                    if (rec.field(0) == TraceFormat.MEM_DEVICE) {
                        device.remove(rec.field(1));
                    }
                }
                case TraceFormat.COPY -> s.count((int) rec.field(0), rec.field(3), rec.field(4), rec.field(5), device);
                case TraceFormat.COPY_2D -> s.count((int) rec.field(0), rec.field(3), rec.field(5),
                        rec.field(7) * rec.field(8), device);
                case TraceFormat.SYNC_STREAM, TraceFormat.SYNC_DEVICE, TraceFormat.EVENT_SYNC -> s.syncs++;
                case TraceFormat.HOST_WRITE -> {
                    s.hostWrites++;
                    s.hostWriteBytes += rec.field(1);
                }
                case TraceFormat.COMPUTE -> s.computeNs += rec.field(1);
                case TraceFormat.DELAY -> s.delayNs += rec.field(0);
                default -> {
                }
            }
        }
        return s;
    }

    private void count(int kind, long dst, long src, long bytes, TreeMap<Long, Long> device) {
        if (kind == TraceFormat.KIND_DEFAULT) {
            final boolean d = inside(device, dst);
            final boolean sd = inside(device, src);
            kind = d ? (sd ? TraceFormat.KIND_D2D : TraceFormat.KIND_H2D) : (sd ? TraceFormat.KIND_D2H
                    : TraceFormat.KIND_H2H);
        }
        switch (kind) {
            case TraceFormat.KIND_H2D -> {
                h2dCopies++;
                h2dBytes += bytes;
            }
            case TraceFormat.KIND_D2H -> {
                d2hCopies++;
                d2hBytes += bytes;
            }
            case TraceFormat.KIND_D2D -> {
                d2dCopies++;
                d2dBytes += bytes;
            }
            default -> {
                h2hCopies++;
                h2hBytes += bytes;
            }
        }
    }

    private static boolean inside(TreeMap<Long, Long> regions, long address) {
        final var e = regions.floorEntry(address);
        return e != null && Long.compareUnsigned(address - e.getKey(), e.getValue()) < 0;
    }

    /** One line, {@code key=value} pairs (the keys of simgpu's statistics where they exist). */
    public String line() {
        return "records=" + records + " h2d_copies=" + h2dCopies + " h2d_bytes=" + h2dBytes + " d2h_copies="
                + d2hCopies + " d2h_bytes=" + d2hBytes + " d2d_copies=" + d2dCopies + " d2d_bytes=" + d2dBytes
                + " syncs=" + syncs + " host_writes=" + hostWrites + " host_write_bytes=" + hostWriteBytes
                + " compute_ns=" + computeNs + " delay_ns=" + delayNs;
    }
}
