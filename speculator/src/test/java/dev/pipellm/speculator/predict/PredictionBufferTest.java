package dev.pipellm.speculator.predict;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PredictionBufferTest {
    @Test
    void shouldSplitCopyIntoChunkSizedMessagesWhenLargerThanChunk() {
        final PredictionBuffer b = new PredictionBuffer(4, 1 << 20);
        b.append(0x10000, (5L << 20) / 2, PredictionBuffer.DATA_KNOWN, 0.9f, 2);
        b.append(0x900000, 100, 0, 0.5f, 2);
        assertEquals(4, b.messageCount());
        assertEquals(3, b.copyMessages(0));
        final PredictedMessage last = b.message(2);
        assertEquals(0x10000 + (2L << 20), last.hostAddress());
        assertEquals(1 << 19, last.length());
        assertEquals(2, last.chunkIndex());
        assertTrue(last.dataKnown());
        final PredictedMessage small = b.message(3);
        assertFalse(small.dataKnown());
        assertEquals(100, small.length());
        assertEquals(1, b.copyOfMessage(3));
    }

    @Test
    void shouldRefuseAppendWhenFullOrEmptyCopy() {
        final PredictionBuffer b = new PredictionBuffer(1, 1 << 20);
        assertFalse(b.append(1, 0, 0, 1f, 0));
        assertTrue(b.append(1, 1, 0, 1f, 0));
        assertFalse(b.append(2, 1, 0, 1f, 0));
        assertTrue(b.isFull());
    }
}
