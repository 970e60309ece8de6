package dev.pipellm.speculator.event;

/**
 * Kinds of events the speculator observes. Plain {@code int} constants, not an enum, so that an event travels
 * through the hot path as primitives only (no reference loads, no boxing, trivially stored in an {@code int[]}).
 */
public final class EventType {
    /** A memory copy: direction, host range, device address, size, stream, thread. */
    public static final int COPY = 1;
    /** A host (pinned or registered) allocation: host address and size. */
    public static final int HOST_ALLOC = 2;
    /** A host allocation was freed: host address (size may be 0 if unknown). Everything learnt about it is void. */
    public static final int HOST_FREE = 3;
    /** A device allocation: device address and size. */
    public static final int DEVICE_ALLOC = 4;
    /** A device allocation was freed. */
    public static final int DEVICE_FREE = 5;
    /** A synchronisation point (stream or device synchronise, event wait). {@code stream} = -1 for device-wide. */
    public static final int SYNC = 6;
    /**
     * The CPU wrote a host range (seen by write tracking / validation). A copy from a range written since its last
     * copy carries fresh data: its size may be predictable, its plaintext is not.
     */
    public static final int HOST_WRITE = 7;
    /** Hint from a cooperating framework: the H2D copy of this host range comes next, after earlier hints. */
    public static final int HINT = 8;
    /** Hint from a cooperating framework: forget every pending hint. */
    public static final int HINT_CLEAR = 9;
    /** Marker with no effect on prediction ({@code bytes} = marker id); trace generators use it to tag phases. */
    public static final int MARK = 10;

    /** Highest event type value; types are dense from 1. */
    public static final int MAX_TYPE = MARK;

    private EventType() {
    }

    /** Short lower-case name for logs and tools (never called on the hot path). */
    public static String name(int type) {
        return switch (type) {
            case COPY -> "copy";
            case HOST_ALLOC -> "host_alloc";
            case HOST_FREE -> "host_free";
            case DEVICE_ALLOC -> "device_alloc";
            case DEVICE_FREE -> "device_free";
            case SYNC -> "sync";
            case HOST_WRITE -> "host_write";
            case HINT -> "hint";
            case HINT_CLEAR -> "hint_clear";
            case MARK -> "mark";
            default -> "unknown(" + type + ")";
        };
    }
}
