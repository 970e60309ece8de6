package dev.pipellm.agent.config;

/**
 * {@code java -cp pipellm-agent.jar dev.pipellm.agent.config.OptionsCheck}: validates the
 * {@code PIPELLM_*} variables of this environment exactly as the agent will at start-up, so that
 * {@code ./pipellm run} can refuse a bad option before it starts the command. Exit status 0 when
 * every value is valid; 2 after printing the one line that names the bad key.
 */
public final class OptionsCheck {
    private OptionsCheck() {}

    public static void main(String[] args) {
        try {
            Config.parse(Config.optionsFromEnvironment(System.getenv()));
        } catch (ConfigException e) {
            System.err.println(e.getMessage());
            System.exit(2);
        }
    }
}
