package dev.pipellm.agent.trace;

import dev.pipellm.agent.pipeline.CopyHooks;

/**
 * The copy hooks of a recording agent: the mode's own hooks first (they may refuse a copy), then the recorder.
 * Adds nothing but ring appends to the upcall path (see {@link TraceRecorder}).
 */
public final class RecordingCopyHooks extends CopyHooks {
    private final CopyHooks delegate;
    private final TraceRecorder recorder;

    public RecordingCopyHooks(CopyHooks delegate, TraceRecorder recorder) {
        this.delegate = delegate;
        this.recorder = recorder;
    }

    @Override
    public int beforeCopy(int api, long dst, long dpitch, long src, long spitch, long width, long height, int kind,
                          long stream) {
        final int r = delegate.beforeCopy(api, dst, dpitch, src, spitch, width, height, kind, stream);
        if (r == 0) {
            recorder.copy(api, dst, dpitch, src, spitch, width, height, kind, stream);
        }
        return r;
    }

    @Override
    public void afterCopy(int api, long dst, long src, long width, long height, int kind, long stream, int result) {
        delegate.afterCopy(api, dst, src, width, height, kind, stream, result);
        recorder.copyDone(result);
    }

    @Override
    public void beforeSync(int api, long a, long b) {
        recorder.syncBegin(api);
        delegate.beforeSync(api, a, b);
    }

    @Override
    public void afterSync(int api, long a, long b, int result) {
        delegate.afterSync(api, a, b, result);
        recorder.sync(api, a, b, result);
    }

    @Override
    public void afterAlloc(int api, long ptr, long bytes, int result) {
        delegate.afterAlloc(api, ptr, bytes, result);
        recorder.alloc(api, ptr, bytes, result);
    }
}
