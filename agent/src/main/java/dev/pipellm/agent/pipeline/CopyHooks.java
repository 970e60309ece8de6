package dev.pipellm.agent.pipeline;

/**
 * The CUDA side of the agent: what it does around each intercepted copy, ordering call and
 * allocation (shim_bridge.h on_copy, after_copy, before_sync, on_sync, on_alloc). Outside
 * {@code pipellm} mode nothing: the shim's counters are all the other modes need.
 */
public class CopyHooks {
    /** The hooks of the modes without a pipeline. */
    public static final CopyHooks NONE = new CopyHooks();

    protected CopyHooks() {}

    /** Before the real copy: 0 lets it run, a cudaError_t refuses it. */
    public int beforeCopy(int api, long dst, long dpitch, long src, long spitch, long width, long height, int kind,
                          long stream) {
        return 0;
    }

    /** After a real copy that {@link #beforeCopy} let through. */
    public void afterCopy(int api, long dst, long src, long width, long height, int kind, long stream, int result) {}

    public void beforeSync(int api, long a, long b) {}

    public void afterSync(int api, long a, long b, int result) {}

    public void afterAlloc(int api, long ptr, long bytes, int result) {}
}
