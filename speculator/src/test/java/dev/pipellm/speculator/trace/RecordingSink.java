package dev.pipellm.speculator.trace;

import dev.pipellm.speculator.event.CopyDirection;
import dev.pipellm.speculator.event.EventType;

import java.util.ArrayList;
import java.util.List;

/** Collects a trace in memory for assertions (tests only). */
final class RecordingSink implements TraceSink {
    record Event(int type, int direction, long host, long device, long bytes, int stream, int copyClass) {
        boolean isCopy(int dir) {
            return type == EventType.COPY && direction == dir;
        }
    }

    final List<Event> events = new ArrayList<>();

    @Override
    public void onEvent(int type, int direction, long hostAddress, long deviceAddress, long bytes, int stream,
                        int thread, int copyClass) {
        events.add(new Event(type, direction, hostAddress, deviceAddress, bytes, stream, copyClass));
    }

    List<Event> copies(int direction, int copyClass) {
        final List<Event> out = new ArrayList<>();
        for (Event e : events) {
            if (e.isCopy(direction) && (copyClass < 0 || e.copyClass() == copyClass)) {
                out.add(e);
            }
        }
        return out;
    }

    List<Event> h2d(int copyClass) {
        return copies(CopyDirection.H2D, copyClass);
    }

    long fingerprint() {
        long h = 1;
        for (Event e : events) {
            h = h * 31 + e.hashCode();
        }
        return h;
    }
}
