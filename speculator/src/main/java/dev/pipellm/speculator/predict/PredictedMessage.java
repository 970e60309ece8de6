package dev.pipellm.speculator.predict;

/**
 * One predicted H2D GCM message, as a value. The hot path uses {@link PredictionBuffer}'s accessors instead;
 * this record is for tools, logs and tests.
 *
 * @param hostAddress   source of the plaintext, or {@link PredictionBuffer#NO_ADDRESS} when unknown
 * @param length        message length in bytes (at most the driver's chunk size)
 * @param dataKnown     true when the plaintext is known now and can be pre-encrypted; false for
 *                      size-known/data-unknown messages (fresh small copies), which only reserve an IV
 * @param confidence    estimated probability in [0, 1] that this message comes at this position
 * @param gapBefore     spare IVs the IV-slack policy advises to leave before this message
 * @param chunkIndex    index of the message within its copy
 * @param predictorId   which predictor produced it ({@link Speculator#predictorName(int)})
 */
public record PredictedMessage(long hostAddress, int length, boolean dataKnown, float confidence, int gapBefore,
                               int chunkIndex, int predictorId) {
}
