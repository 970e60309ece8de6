package dev.pipellm.speculator.trace;

/** Tests read the Azure traces through -Dpipellm.shared.dir (set by the parent pom) or PIPELLM_SHARED_DIR. */
public final class SharedDataFixture {
    private static AzureTrace conv;

    private SharedDataFixture() {
    }

    /** The conversation trace; fails (never skips) with a message naming the property when data is missing. */
    public static synchronized AzureTrace conv() {
        if (conv == null) {
            conv = AzureTrace.read(SharedData.azureTrace(null, SharedData.AZURE_CONV));
        }
        return conv;
    }
}
