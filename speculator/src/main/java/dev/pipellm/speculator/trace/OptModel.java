package dev.pipellm.speculator.trace;

/**
 * OPT decoder dimensions (FlexGen's {@code opt_config.py}: vocab 50272, max_seq_len 2048 so the learned position
 * table has 2050 rows). fp16 throughout.
 */
public record OptModel(String name, int layers, int hidden, int vocab, int positionRows) {
    public static final OptModel OPT_13B = new OptModel("opt-13b", 40, 5120, 50272, 2050);
    public static final OptModel OPT_30B = new OptModel("opt-30b", 48, 7168, 50272, 2050);
    public static final OptModel OPT_66B = new OptModel("opt-66b", 64, 9216, 50272, 2050);
    public static final OptModel OPT_175B = new OptModel("opt-175b", 96, 12288, 50272, 2050);

    public static final int BYTES_PER_ELEMENT = 2;

    public static OptModel byName(String name) {
        return switch (name) {
            case "opt-13b" -> OPT_13B;
            case "opt-30b" -> OPT_30B;
            case "opt-66b" -> OPT_66B;
            case "opt-175b" -> OPT_175B;
            default -> throw new IllegalArgumentException("unknown OPT model '" + name
                    + "' (known: opt-13b, opt-30b, opt-66b, opt-175b)");
        };
    }
}
