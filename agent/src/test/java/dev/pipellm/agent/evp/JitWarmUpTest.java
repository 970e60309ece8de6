package dev.pipellm.agent.evp;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class JitWarmUpTest {
    @Test
    void shouldProcessMessagesWhenRunWithinItsBudget() {
        long start = System.nanoTime();
        int messages = JitWarmUp.run();
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertTrue(messages > 0, "warm-up processed no message (" + messages + ")");
        assertTrue(millis < 5_000, "warm-up ran " + millis + " ms, past its 600 ms budget by far");
    }
}
