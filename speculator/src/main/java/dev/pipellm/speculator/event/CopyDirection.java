package dev.pipellm.speculator.event;

/** Direction of a {@link EventType#COPY} event, as {@code int} constants (see {@link EventType} for why). */
public final class CopyDirection {
    /** Not a copy (allocation, sync, hint...). */
    public static final int NONE = 0;
    /** Host to device: encrypted by the CPU under CC, the direction the speculator predicts. */
    public static final int H2D = 1;
    /** Device to host: decrypted by the CPU; a swap-out announces a later swap-in of the same host range. */
    public static final int D2H = 2;
    /** Device to device: no host data, no crypto. */
    public static final int D2D = 3;

    private CopyDirection() {
    }

    public static String name(int direction) {
        return switch (direction) {
            case NONE -> "none";
            case H2D -> "h2d";
            case D2H -> "d2h";
            case D2D -> "d2d";
            default -> "unknown(" + direction + ")";
        };
    }
}
