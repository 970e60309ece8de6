package dev.pipellm.speculator.replay;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReplayToolTest {
    /** One run of the tool: its exit status, stdout and stderr. */
    private record Outcome(int rc, String out, String err) {
        /** A usage error: status 2, nothing run, and one line on stderr that starts "replay: " and has all parts. */
        void assertUsageError(String... parts) {
            assertEquals(2, rc, err);
            assertTrue(err.startsWith("replay: ") && err.endsWith("\n") && err.indexOf('\n') == err.length() - 1,
                    "one line on stderr: " + err);
            for (String p : parts) {
                assertTrue(err.contains(p), "'" + p + "' in: " + err);
            }
            assertFalse(out.contains("done "), "no workload may run: " + out);
        }
    }

    private static Outcome replay(String... args) {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final int rc = Replay.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Outcome(rc, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void shouldPrintTableAndWriteJsonWhenAskedForAWorkload(@TempDir Path tmp) throws Exception {
        final Path json = tmp.resolve("r.json");
        final Outcome o = replay("--workload", "accelerate-opt30b,vllm-swap-code", "--requests", "150",
            "--json", json.toString());
        assertEquals(0, o.rc(), o.err());
        assertTrue(o.out().contains("accelerate-opt30b") && o.out().contains("cover %"), o.out());
        assertEquals("", o.err());
        final String j = Files.readString(json);
        assertTrue(j.contains("\"name\": \"vllm-swap-code\"") && j.contains("\"coverage\""), j);
        assertTrue(j.contains("\"steady_state\""), j);
    }

    @Test
    void shouldReportWasteShareNopsAndJitterInTheJson(@TempDir Path tmp) throws Exception {
        final Path json = tmp.resolve("j.json");
        final Outcome o = replay("--workload", "wobble-jitter,wobble-model-switch", "--jitter", "0.01", "--json",
                json.toString());
        assertEquals(0, o.rc(), o.err());
        assertTrue(o.out().contains("jitter 0.010") && o.out().contains("waste %"), o.out());
        final String j = Files.readString(json);
        assertTrue(j.contains("\"jitter\": 0.010000") && j.contains("\"wasted_share\"")
                && j.contains("\"nops_per_100_messages\"") && j.contains("\"relock_messages\""), j);
    }

    @Test
    void shouldPrintTheUsageWhenAskedForHelp() {
        final Outcome o = replay("--help");
        assertEquals(0, o.rc());
        assertTrue(o.out().startsWith("usage: ./pipellm replay") && o.out().contains("--min-confidence F"), o.out());
        assertTrue(o.out().contains("flexgen-opt30b"), o.out());
    }

    @Test
    void shouldRejectUnknownWorkloadsNamingTheKnownOnes() {
        replay("--workload", "flexgen-opt30b,nope").assertUsageError("--workload 'nope' is not valid",
                "flexgen-opt30b", "lora-conv", "all");
    }

    @Test
    void shouldPointAtTheWorkloadOptionWhenAWorkloadIsGivenAsAnArgument() {
        replay("vllm-swap").assertUsageError("unexpected argument 'vllm-swap'", "--workload NAME", "vllm-swap-conv");
    }

    @Test
    void shouldNameTheOptionAndTheAcceptedOnesWhenAnOptionIsUnknown() {
        replay("--worklaod", "all").assertUsageError("unknown option '--worklaod'", "--workload", "--json");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "--requests|abc|expected a positive integer",
        "--requests|0|expected a positive integer",
        "--requests|99999999999|expected a positive integer",
        "--seed|x|expected an integer",
        "--chunk-bytes|-1|expected an integer from 16 to 1073741824",
        "--chunk-bytes|8|expected an integer from 16 to 1073741824",
        "--depth-messages|1.5|expected a positive integer",
        "--depth-bytes|0|expected a positive integer",
        "--min-confidence|2|expected a number from 0 to 1",
        "--min-confidence|high|expected a number from 0 to 1",
        "--jitter|-0.1|expected a number from 0 to 1",
    })
    void shouldNameTheOptionTheValueAndTheRangeWhenANumberIsBad(String option, String value, String expected) {
        replay("--workload", "flexgen-opt30b", option, value)
                .assertUsageError(option + " '" + value + "' is not valid: " + expected);
    }

    @Test
    void shouldAcceptANegativeSeed() {
        final Outcome o = replay("--seed", "-7", "--help");
        assertEquals(0, o.rc(), o.err());
    }

    @Test
    void shouldSayWhatAnOptionNeedsWhenItsValueIsMissing() {
        replay("--requests").assertUsageError("--requests needs a value: a positive integer");
        replay("--workload", "--json", "x.json").assertUsageError("--workload needs a value: NAME[,NAME...] or all");
    }

    @Test
    void shouldRefuseAJsonReportInAMissingDirectoryBeforeAnyWorkloadRuns(@TempDir Path tmp) {
        final Path json = tmp.resolve("no-such-dir").resolve("r.json");
        replay("--workload", "flexgen-opt30b", "--json", json.toString())
                .assertUsageError("--json '" + json + "' is not valid", "existing directory");
    }

    @Test
    void shouldRefuseAJsonReportThatIsADirectory(@TempDir Path tmp) {
        replay("--json", tmp.toString()).assertUsageError("--json '" + tmp + "' is not valid", "not a directory");
    }

    @Test
    void shouldFailNamingThePathAndTheOptionWhenTheSharedOptionPointsNowhere(@TempDir Path tmp) {
        // flexgen first: the data of a later workload is checked before the first one runs
        replay("--workload", "flexgen-opt30b,vllm-swap-conv", "--shared", tmp.resolve("missing").toString())
                .assertUsageError("from option --shared does not exist", tmp.resolve("missing").toString(),
                        "pipellm.shared.dir", "PIPELLM_SHARED_DIR");
    }
}
