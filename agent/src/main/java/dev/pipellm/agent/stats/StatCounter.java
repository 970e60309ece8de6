package dev.pipellm.agent.stats;

/**
 * Every counter the agent keeps. The key is used verbatim in the {@code PIPELLM_STATS} JSON object.
 * A message is one EVP init with an IV on an AES-256-GCM context, up to its final.
 */
public enum StatCounter {
    INTERCEPTED_COPIES("intercepted_copies", "cudaMemcpy* calls seen by on_copy"),
    INTERCEPTED_SYNCS("intercepted_syncs", "stream/device/event synchronize, event record and stream-wait calls"),
    INTERCEPTED_ALLOCS("intercepted_allocs", "host/device allocations and frees seen by on_alloc"),
    H2D_MESSAGES("h2d_messages", "AES-256-GCM encrypt messages started (EVP_EncryptInit_ex with an IV)"),
    D2H_MESSAGES("d2h_messages", "AES-256-GCM decrypt messages started (EVP_DecryptInit_ex with an IV)"),
    COLD_START_MESSAGES("cold_start_messages", "driver messages left to OpenSSL while the agent's AES-GCM was not yet warm and faster"),
    AGENT_ENCRYPTED_MESSAGES("agent_encrypted_messages", "encrypt messages the agent completed itself"),
    AGENT_DECRYPTED_MESSAGES("agent_decrypted_messages", "decrypt messages the agent completed itself (tag verified or not)"),
    FAST_PATH_MESSAGES("fast_path_messages", "H2D messages committed from pre-encrypted slots (pipellm mode)"),
    SLOW_PATH_MESSAGES("slow_path_messages", "messages the agent encrypted or decrypted at the time of the call"),
    DIVERGED_MESSAGES("diverged_messages", "messages that began on a slot and were finished on the slow path"),
    NOP_MESSAGES("nop_messages", "1-byte copies issued to burn spare IVs up to a ready slot"),
    NOP_UNREACHABLE_CHANNELS("nop_unreachable_channels", "channels where a NOP went through another channel: padding stopped there"),
    PLANNED_SLOTS("planned_slots", "slots the planner queued for pre-encryption"),
    RELINQUISHED_SLOTS("relinquished_slots", "slots dropped unused: their IV passed, the plan changed, or their key retired"),
    STALE_SLOTS("stale_slots", "slots dropped because their plaintext changed (a write, a free, a failed compare)"),
    PRE_ENCRYPTED_BYTES("pre_encrypted_bytes", "bytes the workers encrypted ahead of the copies"),
    SNAPSHOT_BYTES("snapshot_bytes", "plaintext bytes the workers kept as snapshots for the commit's compare (validate=compare, or memory uffd cannot track)"),
    TRACKED_SLOTS("tracked_slots", "slots whose source pages were write-tracked (validate=uffd): no snapshot, no compare"),
    PAGE_SCANS("page_scans", "PAGEMAP_SCAN calls of write tracking: one arm per tracked slot, one check per committed update"),
    WASTED_ENCRYPTED_BYTES("wasted_encrypted_bytes", "pre-encrypted bytes never committed"),
    COMMIT_NS("commit_ns", "nanoseconds the app's threads spent inside EVP calls of fast-path messages"),
    SLOW_PATH_NS("slow_path_ns", "nanoseconds the app's threads spent inside EVP calls of agent slow-path messages"),
    PIPELINE_PAUSES("pipeline_pauses", "times pre-encryption was paused because it did not make the app's EVP time cheaper"),
    WORKER_ERRORS("worker_errors", "failures inside the pipeline's worker and planner threads (the slow path took over)"),
    FALLBACKS("fallbacks", "messages the agent's own path failed on and replayed through the real OpenSSL"),
    HANDED_OVER_MESSAGES("handed_over_messages", "messages given back to the real OpenSSL because of a call the agent does not emulate"),
    REFUSED_MESSAGES("refused_messages", "messages the agent refused (fail_closed, or no way to replay)"),
    TAG_FAILURES("tag_failures", "agent decrypt finals whose tag did not verify"),
    AGENT_ERRORS("agent_errors", "Throwables caught in upcalls"),
    UNTRACKED_CONTEXTS("untracked_contexts", "EVP contexts left to OpenSSL because the context table was full"),
    EVICTED_CONTEXTS("evicted_contexts", "idle context states dropped to make room (their free never reached the agent)");

    /** snake_case JSON key. */
    public final String key;
    public final String label;

    StatCounter(String key, String label) {
        this.key = key;
        this.label = label;
    }
}
