package dev.pipellm.speculator.trace;

/**
 * The small per-step H2D copies of a vLLM V0 engine step, modelled on {@code ModelRunner.prepare_model_input}
 * (flash-attn metadata) and {@code SamplingTensors}: each tensor is built on the CPU, placed in a pinned
 * caching-allocator block ({@code async_tensor_h2d(..., pin_memory=True)}) and copied with
 * {@code non_blocking=True}; the block is reused once the copy's event completes (next step). Sizes follow the
 * tensors' dtypes; which tensors exist differs between vLLM versions, so treat the list as representative
 * (verify against a real trace). They are issued before the step's cache swaps (worker_base.execute_model:
 * prepare_input, then execute_worker). After the forward, the sampled ids come back (D2H).
 */
final class StepInputs {
    private final Emitter out;
    private final CachingHostAllocatorModel pinned;
    private final CachingHostAllocatorModel pageable;
    private final long deviceBase;

    StepInputs(Emitter out, CachingHostAllocatorModel pinned, CachingHostAllocatorModel pageable, long deviceBase) {
        this.out = out;
        this.pinned = pinned;
        this.pageable = pageable;
        this.deviceBase = deviceBase;
    }

    /**
     * @param tokens    tokens in the step (prompt tokens for a prefill, one per sequence for a decode)
     * @param seqs      sequences in the step
     * @param maxBlocks longest block table in the batch (decode), 0 for a prefill
     */
    void emitInputs(long tokens, long seqs, long maxBlocks) {
        int k = 0;
        copy(tokens * 8, k++);            // input_tokens (int64)
        copy(tokens * 8, k++);            // input_positions (int64)
        copy(tokens * 8, k++);            // slot_mapping (int64)
        copy(seqs * 4, k++);              // seq_lens_tensor (int32)
        if (maxBlocks > 0) {
            copy(seqs * maxBlocks * 4, k++);  // block_tables (int32)
        }
        copy((seqs + 1) * 4, k++);        // query_start_loc (int32)
        copy((seqs + 1) * 4, k++);        // seq_start_loc (int32)
        copy(seqs * 4, k++);              // context_lens_tensor (int32)
        copy(seqs * 8, k++);              // selected_token_indices (int64)
        copy(seqs * 4, k++);              // temperatures (float32)
        copy(seqs * 4, k++);              // top_ps (float32)
        copy(seqs * 4, k);                // top_ks (int32)
    }

    private void copy(long bytes, int index) {
        final long host = pinned.allocate(bytes);
        out.hostWrite(host, bytes);
        out.h2d(host, deviceBase + ((long) index << 32), bytes, 0, CopyClass.INPUT);
        pinned.freeLater(host, bytes);
    }

    /** After the forward: sampled token ids (int64 per sequence) back to the CPU. */
    void emitOutputs(long seqs) {
        final long bytes = seqs * 8;
        final long host = pageable.allocate(bytes);
        out.d2h(host, deviceBase + (255L << 32), bytes, 0, CopyClass.OUTPUT);
        pageable.free(host, bytes);
    }

    /** End of step: the input blocks' events have completed. */
    void endStep() {
        pinned.completePending();
    }
}
