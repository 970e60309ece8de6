package dev.pipellm.bench.trace;

/** A file that is not a complete, valid version-1 trace; the message names the file and where it went wrong. */
public final class TraceFormatException extends RuntimeException {
    public TraceFormatException(String message) {
        super(message);
    }
}
