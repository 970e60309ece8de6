package dev.pipellm.speculator.replay;

import dev.pipellm.speculator.predict.PredictionBuffer;
import dev.pipellm.speculator.trace.CopyClass;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class IvPipelineModelTest {
    private static final long CHUNK = 1 << 20;
    private final ReplayCounters c = new ReplayCounters();
    private IvPipelineModel model;
    private PredictionBuffer plan;

    @BeforeEach
    void setUp() {
        model = new IvPipelineModel(new IvPipelineModel.Settings(16, 64L << 20, 0.5f, 8, 16));
        model.countInto(c);
        plan = new PredictionBuffer(16, CHUNK);
    }

    @Test
    void shouldCommitEveryMessageFromTheHeadWhenThePredictionIsRight() {
        plan.append(0x1000_0000L, 3 * CHUNK, PredictionBuffer.DATA_KNOWN, 0.9f, 0);
        plan.append(0x2000_0000L, CHUNK, PredictionBuffer.DATA_KNOWN, 0.9f, 0);
        model.replan(plan);
        model.onRealCopy(0x1000_0000L, 3 * CHUNK, CHUNK, CopyClass.WEIGHT);
        model.onRealCopy(0x2000_0000L, CHUNK, CHUNK, CopyClass.WEIGHT);
        assertEquals(4, c.coveredMessages);
        assertEquals(4, c.headHitMessages);
        assertEquals(0, c.nops);
        assertEquals(0, c.wastedBytes);
        assertEquals(4, model.nextIv());
    }

    @Test
    void shouldSendNopsForUnusedSlackAndLetUnpredictedMessagesUseIt() {
        plan.append(0x1000_0000L, CHUNK, PredictionBuffer.DATA_KNOWN, 0.9f, 0);
        setGap(plan, 0, 3);
        model.replan(plan);
        model.onRealCopy(0x9000, 64, CHUNK, CopyClass.INPUT); // consumes one spare IV
        model.onRealCopy(0x1000_0000L, CHUNK, CHUNK, CopyClass.WEIGHT);
        assertEquals(2, c.nops);
        assertEquals(1, c.coveredMessages);
        assertEquals(0, c.wastedBytes);
    }

    @Test
    void shouldRelinquishTheHeadWhenAnUnpredictedMessageTakesItsIv() {
        plan.append(0x1000_0000L, CHUNK, PredictionBuffer.DATA_KNOWN, 0.9f, 0);
        model.replan(plan);
        model.onRealCopy(0x9000, 64, CHUNK, CopyClass.INPUT);
        assertEquals(1, c.relinquishedSlots);
        assertEquals(CHUNK, c.wastedBytes);
    }

    @Test
    void shouldNotPlanWhenConfidenceIsBelowThreshold() {
        plan.append(0x1000_0000L, CHUNK, PredictionBuffer.DATA_KNOWN, 0.3f, 0);
        model.replan(plan);
        assertEquals(0, model.windowMessages());
        model.onRealCopy(0x1000_0000L, CHUNK, CHUNK, CopyClass.WEIGHT);
        assertEquals(0, c.coveredMessages);
    }

    @Test
    void shouldNeverCommitAStaleSlotWhenTheCpuWroteItsSource() {
        plan.append(0x1000_0000L, CHUNK, PredictionBuffer.DATA_KNOWN, 0.9f, 0);
        model.replan(plan);
        model.onHostWrite(0x1000_0000L + 100, 8);
        model.onRealCopy(0x1000_0000L, CHUNK, CHUNK, CopyClass.WEIGHT);
        assertEquals(0, c.coveredMessages);
        assertEquals(1, c.staleSlots);
    }

    @Test
    void shouldUseASizeKnownReservationWithoutWasteWhenTheFreshCopyComes() {
        plan.append(0x9000, 64, 0, 0.9f, 0);
        plan.append(0x1000_0000L, CHUNK, PredictionBuffer.DATA_KNOWN, 0.9f, 0);
        model.replan(plan);
        model.onRealCopy(0x9100, 64, CHUNK, CopyClass.INPUT);
        model.onRealCopy(0x1000_0000L, CHUNK, CHUNK, CopyClass.WEIGHT);
        assertEquals(1, c.reservedMessages);
        assertEquals(2, c.headHitMessages);
        assertEquals(1, c.coveredMessages);
        assertEquals(0, c.nops);
    }

    private static void setGap(PredictionBuffer b, int copy, int gap) {
        b.setGapBefore(copy, gap);
    }
}
