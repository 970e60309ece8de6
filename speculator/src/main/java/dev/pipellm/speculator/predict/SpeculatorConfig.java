package dev.pipellm.speculator.predict;

/**
 * Settings of a {@link Speculator}, validated at build time with errors naming the setting. Units are in the
 * names. Defaults (the {@code DEFAULT_*} constants) fit the workloads of workloads.md on one GPU.
 */
public final class SpeculatorConfig {
    /** NVIDIA's driver splits a CC copy into GCM messages of at most 1 MiB (ARCHITECTURE.md section 2). */
    public static final long DEFAULT_CHUNK_BYTES = 1L << 20;
    /** The range of chunk_bytes: from the GCM block size up to 1 GiB. */
    public static final long MIN_CHUNK_BYTES = 16;
    public static final long MAX_CHUNK_BYTES = 1L << 30;
    public static final int DEFAULT_MAX_PREDICTED_COPIES = 256;
    public static final int DEFAULT_MAX_PREDICTED_MESSAGES = 1024;
    public static final int DEFAULT_SCORE_DEPTH_COPIES = 4;
    public static final int DEFAULT_STREAM_BUCKETS = 16;
    /** Enough for one period of FlexGen OPT-175B (1,541 copies per token) many times over. */
    public static final int DEFAULT_HISTORY_COPIES = 1 << 15;
    /** 2^18 outstanding swapped-out copies: e.g. 16 GiB of 160 KiB Llama-2-13B blocks x 80 (layer, K/V). */
    public static final int DEFAULT_SWAP_BACK_COPIES = 1 << 18;
    public static final int DEFAULT_SWAP_BACK_BURSTS = 4096;
    /** Smallest swap-out copy: a Llama-2-70B KV block (bs 16, 8 KV heads) is 32 KiB; sampled ids are bytes. */
    public static final long DEFAULT_SWAP_BACK_MIN_COPY_BYTES = 4096;
    /** Smallest adapter copy: vLLM r=8 A of a 4096-wide projection is 64 KiB. */
    public static final long DEFAULT_ADAPTER_MIN_COPY_BYTES = 64L << 10;
    public static final int DEFAULT_ADAPTER_COPIES = 1 << 16;
    public static final int DEFAULT_MAX_ADAPTERS = 1024;
    public static final int DEFAULT_SUCCESSOR_ENTRIES = 1 << 14;
    public static final int DEFAULT_HINT_CAPACITY = 1 << 14;
    public static final int DEFAULT_SLACK_MAX_GAP = 64;
    /** A relinquish costs a slow-path encryption and a re-encryption, ~30x a NOP copy (java-stack.md orders). */
    public static final int DEFAULT_RELINQUISH_COST_NOPS = 32;
    public static final int DEFAULT_SLACK_HALF_LIFE_SAMPLES = 1024;
    public static final int DEFAULT_WRITE_TRACKER_ENTRIES = 1 << 12;
    /** Least measured commit probability of a planning depth (see {@link CommitCalibration}). */
    public static final float DEFAULT_MIN_COMMIT_PROBABILITY = 0.9f;
    /** One query in this many may plan one closed depth bucket deeper, to measure it again. */
    public static final int DEFAULT_PROBE_EVERY = 32;

    public final long chunkBytes;
    public final int maxPredictedCopies;
    public final int maxPredictedMessages;
    public final int scoreDepthCopies;
    public final int streamBuckets;
    public final int historyCopies;
    public final int swapBackCopies;
    public final int swapBackBursts;
    public final long swapBackMinCopyBytes;
    public final long adapterMinCopyBytes;
    public final int adapterCopies;
    public final int maxAdapters;
    public final int successorEntries;
    public final int hintCapacity;
    public final int slackMaxGap;
    public final int relinquishCostNops;
    public final int slackHalfLifeSamples;
    public final int writeTrackerEntries;
    public final float minCommitProbability;
    public final int probeEvery;

    private SpeculatorConfig(Builder b) {
        chunkBytes = b.chunkBytes;
        maxPredictedCopies = b.maxPredictedCopies;
        maxPredictedMessages = b.maxPredictedMessages;
        scoreDepthCopies = b.scoreDepthCopies;
        streamBuckets = b.streamBuckets;
        historyCopies = b.historyCopies;
        swapBackCopies = b.swapBackCopies;
        swapBackBursts = b.swapBackBursts;
        swapBackMinCopyBytes = b.swapBackMinCopyBytes;
        adapterMinCopyBytes = b.adapterMinCopyBytes;
        adapterCopies = b.adapterCopies;
        maxAdapters = b.maxAdapters;
        successorEntries = b.successorEntries;
        hintCapacity = b.hintCapacity;
        slackMaxGap = b.slackMaxGap;
        relinquishCostNops = b.relinquishCostNops;
        slackHalfLifeSamples = b.slackHalfLifeSamples;
        writeTrackerEntries = b.writeTrackerEntries;
        minCommitProbability = b.minCommitProbability;
        probeEvery = b.probeEvery;
    }

    public static SpeculatorConfig defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder {
        private long chunkBytes = DEFAULT_CHUNK_BYTES;
        private int maxPredictedCopies = DEFAULT_MAX_PREDICTED_COPIES;
        private int maxPredictedMessages = DEFAULT_MAX_PREDICTED_MESSAGES;
        private int scoreDepthCopies = DEFAULT_SCORE_DEPTH_COPIES;
        private int streamBuckets = DEFAULT_STREAM_BUCKETS;
        private int historyCopies = DEFAULT_HISTORY_COPIES;
        private int swapBackCopies = DEFAULT_SWAP_BACK_COPIES;
        private int swapBackBursts = DEFAULT_SWAP_BACK_BURSTS;
        private long swapBackMinCopyBytes = DEFAULT_SWAP_BACK_MIN_COPY_BYTES;
        private long adapterMinCopyBytes = DEFAULT_ADAPTER_MIN_COPY_BYTES;
        private int adapterCopies = DEFAULT_ADAPTER_COPIES;
        private int maxAdapters = DEFAULT_MAX_ADAPTERS;
        private int successorEntries = DEFAULT_SUCCESSOR_ENTRIES;
        private int hintCapacity = DEFAULT_HINT_CAPACITY;
        private int slackMaxGap = DEFAULT_SLACK_MAX_GAP;
        private int relinquishCostNops = DEFAULT_RELINQUISH_COST_NOPS;
        private int slackHalfLifeSamples = DEFAULT_SLACK_HALF_LIFE_SAMPLES;
        private int writeTrackerEntries = DEFAULT_WRITE_TRACKER_ENTRIES;
        private float minCommitProbability = DEFAULT_MIN_COMMIT_PROBABILITY;
        private int probeEvery = DEFAULT_PROBE_EVERY;

        private Builder() {
        }

        public Builder chunkBytes(long v) {
            chunkBytes = v;
            return this;
        }

        public Builder maxPredictedCopies(int v) {
            maxPredictedCopies = v;
            return this;
        }

        public Builder maxPredictedMessages(int v) {
            maxPredictedMessages = v;
            return this;
        }

        public Builder scoreDepthCopies(int v) {
            scoreDepthCopies = v;
            return this;
        }

        public Builder streamBuckets(int v) {
            streamBuckets = v;
            return this;
        }

        public Builder historyCopies(int v) {
            historyCopies = v;
            return this;
        }

        public Builder swapBackCopies(int v) {
            swapBackCopies = v;
            return this;
        }

        public Builder swapBackBursts(int v) {
            swapBackBursts = v;
            return this;
        }

        public Builder swapBackMinCopyBytes(long v) {
            swapBackMinCopyBytes = v;
            return this;
        }

        public Builder adapterMinCopyBytes(long v) {
            adapterMinCopyBytes = v;
            return this;
        }

        public Builder adapterCopies(int v) {
            adapterCopies = v;
            return this;
        }

        public Builder maxAdapters(int v) {
            maxAdapters = v;
            return this;
        }

        public Builder successorEntries(int v) {
            successorEntries = v;
            return this;
        }

        public Builder hintCapacity(int v) {
            hintCapacity = v;
            return this;
        }

        public Builder slackMaxGap(int v) {
            slackMaxGap = v;
            return this;
        }

        public Builder relinquishCostNops(int v) {
            relinquishCostNops = v;
            return this;
        }

        public Builder slackHalfLifeSamples(int v) {
            slackHalfLifeSamples = v;
            return this;
        }

        public Builder writeTrackerEntries(int v) {
            writeTrackerEntries = v;
            return this;
        }

        public Builder minCommitProbability(float v) {
            minCommitProbability = v;
            return this;
        }

        public Builder probeEvery(int v) {
            probeEvery = v;
            return this;
        }

        public SpeculatorConfig build() {
            if (!(minCommitProbability >= 0 && minCommitProbability <= 1)) {
                throw new IllegalArgumentException("speculator setting min_commit_probability must be in [0, 1], got "
                        + minCommitProbability);
            }
            require(probeEvery >= 1, "probe_every", probeEvery, ">= 1");
            require(chunkBytes >= MIN_CHUNK_BYTES && chunkBytes <= MAX_CHUNK_BYTES, "chunk_bytes", chunkBytes,
                    "[16, 2^30]");
            require(maxPredictedCopies >= 1 && maxPredictedCopies <= (1 << 20), "max_predicted_copies",
                    maxPredictedCopies, "[1, 2^20]");
            require(maxPredictedMessages >= 1, "max_predicted_messages", maxPredictedMessages, ">= 1");
            require(scoreDepthCopies >= 1 && scoreDepthCopies <= 64, "score_depth_copies", scoreDepthCopies,
                    "[1, 64]");
            require(streamBuckets >= 1 && Integer.bitCount(streamBuckets) == 1, "stream_buckets", streamBuckets,
                    "a power of two");
            require(adapterMinCopyBytes >= 1, "adapter_min_copy_bytes", adapterMinCopyBytes, ">= 1");
            require(writeTrackerEntries >= 16, "write_tracker_entries", writeTrackerEntries, ">= 16");
            // The predictors validate their own capacities with messages naming them.
            return new SpeculatorConfig(this);
        }

        private static void require(boolean ok, String key, long value, String range) {
            if (!ok) {
                throw new IllegalArgumentException("speculator setting " + key + " must be " + range + ", got "
                        + value);
            }
        }
    }
}
