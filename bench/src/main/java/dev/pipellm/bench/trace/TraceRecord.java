package dev.pipellm.bench.trace;

/** One decoded record: its type and its fields in the order {@link TraceFormat} lists them. */
public record TraceRecord(int type, long[] fields) {
    public long field(int i) {
        return fields[i];
    }

    @Override
    public String toString() {
        final StringBuilder b = new StringBuilder(TraceFormat.name(type));
        for (long f : fields) {
            b.append(' ').append(Long.toUnsignedString(f));
        }
        return b.toString();
    }
}
