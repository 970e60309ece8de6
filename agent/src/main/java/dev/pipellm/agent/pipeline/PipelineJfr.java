package dev.pipellm.agent.pipeline;

import jdk.jfr.Category;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;

/**
 * JFR events of the pipeline, off unless {@code PIPELLM_JFR=1} (an event object is allocated per
 * event, which the hot path must not do by default). Record with the JDK's usual
 * {@code -XX:StartFlightRecording} (under {@code -agentpath}) or {@code jcmd}.
 */
final class PipelineJfr {
    private final boolean enabled;

    PipelineJfr(boolean enabled) {
        this.enabled = enabled;
    }

    void commit(int channel, long seq, int bytes) {
        if (!enabled) return;
        CommitEvent e = new CommitEvent();
        e.channel = channel;
        e.seq = seq;
        e.bytes = bytes;
        e.commit();
    }

    void relinquish(int channel, long seq, int bytes, String why) {
        if (!enabled) return;
        RelinquishEvent e = new RelinquishEvent();
        e.channel = channel;
        e.seq = seq;
        e.bytes = bytes;
        e.reason = why;
        e.commit();
    }

    void nops(int channel, long fromSeq, int count) {
        if (!enabled) return;
        NopEvent e = new NopEvent();
        e.channel = channel;
        e.seq = fromSeq;
        e.count = count;
        e.commit();
    }

    @Name("dev.pipellm.Commit")
    @Label("PipeLLM commit")
    @Category("PipeLLM")
    static final class CommitEvent extends Event {
        @Label("Channel") int channel;
        @Label("Message sequence") long seq;
        @Label("Bytes") int bytes;
    }

    @Name("dev.pipellm.Relinquish")
    @Label("PipeLLM relinquish")
    @Category("PipeLLM")
    static final class RelinquishEvent extends Event {
        @Label("Channel") int channel;
        @Label("Message sequence") long seq;
        @Label("Bytes") int bytes;
        @Label("Reason") String reason;
    }

    @Name("dev.pipellm.Nop")
    @Label("PipeLLM NOP padding")
    @Category("PipeLLM")
    static final class NopEvent extends Event {
        @Label("Channel") int channel;
        @Label("First NOP's sequence") long seq;
        @Label("NOPs") int count;
    }
}
