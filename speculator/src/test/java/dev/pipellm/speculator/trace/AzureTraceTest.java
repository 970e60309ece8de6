package dev.pipellm.speculator.trace;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AzureTraceTest {
    @Test
    void shouldReadEveryRequestWhenSharedDataIsConfigured() {
        final AzureTrace conv = SharedDataFixture.conv();
        assertEquals(19_366, conv.size());
        assertEquals(0.0, conv.arrivalSeconds(0));
        assertEquals(374, conv.promptTokens(0));
        assertEquals(44, conv.outputTokens(0));
        assertEquals(4.3145789, conv.arrivalSeconds(1), 1e-6);
        final AzureTrace code = AzureTrace.read(SharedData.azureTrace(null, SharedData.AZURE_CODE));
        assertEquals(8_819, code.size());
        assertTrue(code.arrivalSeconds(code.size() - 1) > 3000);
    }

    @Test
    void shouldFailNamingOptionPropertyAndPathWhenDirectoryIsMissing(@TempDir Path tmp) {
        final Path missing = tmp.resolve("no-such-shared");
        final IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> SharedData.resolve(missing.toString()));
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
        assertTrue(e.getMessage().contains(SharedData.PROPERTY), e.getMessage());
        assertTrue(e.getMessage().contains(SharedData.ENV), e.getMessage());
    }

    @Test
    void shouldFailNamingTheFileWhenTheTraceIsAbsent(@TempDir Path tmp) {
        final IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> SharedData.azureTrace(tmp.toString(), SharedData.AZURE_CONV));
        assertTrue(e.getMessage().contains(SharedData.AZURE_CONV), e.getMessage());
    }

    @Test
    void shouldRejectFilesWithAnotherHeader(@TempDir Path tmp) throws Exception {
        final Path f = tmp.resolve("x.csv");
        Files.writeString(f, "a,b,c\n1,2,3\n");
        assertThrows(IllegalArgumentException.class, () -> AzureTrace.read(f));
    }
}
