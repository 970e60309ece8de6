package dev.pipellm.agent.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ConfigTest {
    @Test
    void shouldUseDefaultsWhenOptionsAreEmpty() throws Exception {
        for (String s : new String[] {null, "", " ", ",,"}) {
            Config c = Config.parse(s);
            assertEquals(Mode.PIPELLM, c.mode());
            assertEquals(LogLevel.WARN, c.log());
            assertEquals("", c.statsPath());
            assertFalse(c.failClosed());
            assertEquals(Math.max(1, Runtime.getRuntime().availableProcessors() - 1), c.workers());
            assertEquals(256L << 20, c.memoryBudgetBytes());
            assertTrue(c.workerSchedIdle());
            assertFalse(c.jfr());
            assertEquals("", c.tracePath());
            assertEquals(FaultPoint.NONE, c.faultPoint());
        }
    }

    @Test
    void shouldParseEveryKeyWhenValuesAreValid() throws Exception {
        Config c = Config.parse("mode=sync,log=debug,stats=/tmp/s.json,fail_closed=true,workers=64,"
                + "memory_budget=2G,inject_fault=evp_update:3,home=/opt/pipellm,java_home=/usr/lib/jvm/x");
        assertEquals(Mode.SYNC, c.mode());
        assertEquals(LogLevel.DEBUG, c.log());
        assertEquals("/tmp/s.json", c.statsPath());
        assertTrue(c.failClosed());
        assertEquals(64, c.workers());
        assertEquals(2L << 30, c.memoryBudgetBytes());
        assertEquals(FaultPoint.EVP_UPDATE, c.faultPoint());
        assertEquals(3, c.faultNth());
        assertEquals(Mode.PASSTHROUGH, Config.parse("mode=sync,mode=passthrough").mode(), "last wins");
        String tmp = System.getProperty("java.io.tmpdir");
        assertEquals(java.nio.file.Path.of(tmp, "t.pltrace").toAbsolutePath().toString(),
                Config.parse("trace=" + tmp + "/t.pltrace").tracePath());
    }

    @ParameterizedTest
    @CsvSource({"1,true", "0,false", "true,true", "false,false"})
    void shouldAcceptFailClosedSpellings(String v, boolean expected) throws Exception {
        assertEquals(expected, Config.parse("fail_closed=" + v).failClosed());
    }

    @ParameterizedTest
    @CsvSource({"1048576,1048576", "1M,1048576", "1024K,1048576", "256M,268435456", "3g,3221225472", "1024G,1099511627776"})
    void shouldParseMemoryBudgetWithSuffixes(String v, long bytes) throws Exception {
        assertEquals(bytes, Config.parse("memory_budget=" + v).memoryBudgetBytes());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "mode=fast|mode|passthrough, sync",
        "mode=off|mode|passthrough, sync",
        "log=verbose|log|off, error, warn, info, debug",
        "fail_closed=yes|fail_closed|0, 1, true, false",
        "workers=0|workers|1 to 64",
        "workers=65|workers|1 to 64",
        "workers=two|workers|1 to 64",
        "memory_budget=12X|memory_budget|K, M or G",
        "memory_budget=1K|memory_budget|from 1M",
        "memory_budget=2000G|memory_budget|to 1024G",
        "memory_budget=|memory_budget|K, M or G",
        "inject_fault=evp_update|inject_fault|evp_update:<n>",
        "inject_fault=evp_update:0|inject_fault|evp_update:<n>",
        "inject_fault=memcpy:1|inject_fault|evp_final:<n>",
        "colour=blue|colour|known keys: mode, log, stats",
        "sync|sync|not key=value",
        "stats_interval_ms=-1|stats_interval_ms|0 (only at exit)",
        "stats_interval_ms=soon|stats_interval_ms|0 (only at exit)",
        "summary=maybe|summary|0, 1, true, false",
        "cold_start=warm|cold_start|openssl, agent",
        "trace=/nonexistent-dir/t.pltrace|trace|a file to write, in an existing directory",
        "trace=/tmp|trace|a file to write, in an existing directory",
        "validate=pages|validate|auto, uffd, mprotect, compare",
        "inject_fault=no_uffd|inject_fault|no_uffd:1",
    })
    void shouldNameTheKeyWhenAValueIsBad(String options, String key, String accepted) {
        ConfigException e = assertThrows(ConfigException.class, () -> Config.parse(options));
        assertEquals(key, e.key());
        assertTrue(e.getMessage().startsWith("pipellm: "), e.getMessage());
        assertTrue(e.getMessage().contains(key), e.getMessage());
        assertTrue(e.getMessage().contains(accepted), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line");
    }

    @Test
    void shouldDefaultToAutoValidationAndAcceptEachExactMode() throws Exception {
        assertEquals(Validate.AUTO, Config.defaults().validate());
        for (Validate v : Validate.values()) assertEquals(v, Config.parse("validate=" + v.key).validate());
        assertTrue(Config.parse("validate=uffd").toString().contains("validate=uffd"));
    }

    @Test
    void shouldNameTheEnvironmentVariableWhenAValueIsBad() {
        ConfigException e = assertThrows(ConfigException.class, () -> Config.parse("workers=100"));
        assertEquals("pipellm: workers='100' is not valid (PIPELLM_WORKERS, or agent option workers): accepted values:"
                + " an integer from 1 to 64", e.getMessage());
    }

    @Test
    void shouldKnowExactlyTheKeysTheShimReadsWhenComparedWithShimOptionsDef() throws Exception {
        Path def = Path.of(System.getProperty("pipellm.options.def", "../native-shim/shim/shim_options.def"));
        List<String> shimKeys = new ArrayList<>();
        Matcher m = Pattern.compile("(?m)^X\\((\\w+)\\)").matcher(Files.readString(def));
        while (m.find()) shimKeys.add(m.group(1));
        assertEquals(shimKeys, Config.KEYS);
    }

    @Test
    void shouldBuildTheShimsOptionsWhenReadingTheEnvironment() throws Exception {
        assertEquals("mode=sync,stats=/tmp/s.json,workers=2", Config.optionsFromEnvironment(Map.of(
                "PIPELLM_WORKERS", "2", "PIPELLM_MODE", "sync", "PIPELLM_STATS", "/tmp/s.json", "PIPELLM_WROKERS", "3",
                "HOME", "/root")));
        assertEquals("", Config.optionsFromEnvironment(Map.of("PIPELLM_MODE", "off")), "mode=off never reaches the agent");
        ConfigException e = assertThrows(ConfigException.class,
                () -> Config.optionsFromEnvironment(Map.of("PIPELLM_STATS", "/tmp/a,b")));
        assertEquals("stats", e.key());
        assertTrue(e.getMessage().contains("PIPELLM_STATS"), e.getMessage());
    }

    @Test
    void shouldParseTheExitAndColdStartOptionsWhenGiven() throws Exception {
        Config c = Config.parse("stats_interval_ms=0,summary=1,cold_start=agent");
        assertEquals(0, c.statsIntervalMs());
        assertTrue(c.summary());
        assertEquals(ColdStart.AGENT, c.coldStart());
        Config d = Config.defaults();
        assertEquals(1000, d.statsIntervalMs());
        assertFalse(d.summary());
        assertEquals(ColdStart.OPENSSL, d.coldStart());
    }
}
