package dev.pipellm.agent.pipeline;

/**
 * The H2D channels seen so far (by key) and which channel each stream's copies went through.
 * Lookups are lock-free reads of copy-on-write arrays; a new key or a stream moving to another
 * channel (rare: channel set-up, a key rotation) takes the table's lock and publishes new arrays.
 *
 * <p>A stream whose copies move from channel A to a new channel B means A's key was rotated out
 * (or the driver moved the stream): when no stream is left on A, A is retired and its slots die.
 */
final class Channels {
    static final int MAX_CHANNELS = 64;

    private volatile Channel[] all = new Channel[0];
    private volatile long[] streams = new long[0];
    private volatile Channel[] streamChannel = new Channel[0];
    private int nextId = 1;

    /** The channel of {@code key32}, created on first sight; null when the table is full. */
    Channel forKey(byte[] key32) {
        Channel[] a = all;
        for (Channel c : a) {
            if (c.hasKey(key32)) return c;
        }
        synchronized (this) {
            for (Channel c : all) {
                if (c.hasKey(key32)) return c;
            }
            Channel[] cur = all;
            if (cur.length >= MAX_CHANNELS) {
                Channel victim = oldestRetired(cur);
                if (victim == null) return null;
                cur = remove(cur, victim);
                victim.close();
            }
            Channel c = new Channel(nextId++, key32);
            Channel[] n = java.util.Arrays.copyOf(cur, cur.length + 1);
            n[cur.length] = c;
            all = n;
            return c;
        }
    }

    private static Channel oldestRetired(Channel[] a) {
        for (Channel c : a) {
            if (c.retired) return c;
        }
        return null;
    }

    private static Channel[] remove(Channel[] a, Channel victim) {
        Channel[] n = new Channel[a.length - 1];
        int j = 0;
        for (Channel c : a) {
            if (c != victim) n[j++] = c;
        }
        return n;
    }

    Channel[] all() {
        return all;
    }

    Channel byId(int id) {
        for (Channel c : all) {
            if (c.id == id) return c;
        }
        return null;
    }

    /** The stream handle as events carry it (folded to an int). */
    static int streamId(long stream) {
        return (int) (stream ^ (stream >>> 32));
    }

    /** {@link #ofStream} by the folded id of the events. */
    Channel ofStreamId(int id) {
        long[] s = streams;
        Channel[] c = streamChannel;
        for (int i = 0; i < s.length && i < c.length; i++) {
            if (streamId(s[i]) == id) return c[i];
        }
        return null;
    }

    /** The channel the last copy on {@code stream} went through, or null. */
    Channel ofStream(long stream) {
        long[] s = streams;
        Channel[] c = streamChannel;
        for (int i = 0; i < s.length && i < c.length; i++) {
            if (s[i] == stream) return c[i];
        }
        return null;
    }

    /** An EVP message of a copy on {@code stream} went through {@code ch}. */
    void noteStream(long stream, Channel ch) {
        if (ofStream(stream) == ch) return;
        synchronized (this) {
            long[] s = streams;
            Channel[] c = streamChannel;
            int i = 0;
            while (i < s.length && s[i] != stream) i++;
            Channel before = i < s.length ? c[i] : null;
            long[] ns = i < s.length ? s.clone() : java.util.Arrays.copyOf(s, s.length + 1);
            Channel[] nc = i < s.length ? c.clone() : java.util.Arrays.copyOf(c, c.length + 1);
            if (i == s.length && s.length >= 4 * MAX_CHANNELS) {
                i = 0;   // many short-lived streams: reuse the oldest entry
                ns = s.clone();
                nc = c.clone();
                before = null;
            }
            ns[i] = stream;
            nc[i] = ch;
            streamChannel = nc;
            streams = ns;
            if (before != null && before != ch) {
                boolean used = false;
                for (Channel x : nc) used |= x == before;
                if (!used) before.retire();
            }
        }
    }
}
