package dev.pipellm.crypto.key;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.NotSerializableException;
import java.io.ObjectOutputStream;
import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GcmKeyTest {
    private static byte[] material() {
        byte[] k = new byte[32];
        for (int i = 0; i < 32; i++) {
            k[i] = (byte) (0xA0 + i);
        }
        return k;
    }

    @Test
    void shouldReportDestroyedAndHandOutNothingWhenClosed() {
        GcmKey key = GcmKey.copyOf(material());
        byte[] out = new byte[32];
        assertTrue(key.copyTo(out, 0));
        assertArrayEquals(material(), out);
        key.close();
        byte[] after = new byte[32];
        assertFalse(key.copyTo(after, 0));
        assertArrayEquals(new byte[32], after);
        assertNull(key.asJdkKey().getEncoded());
        assertTrue(key.isDestroyed());
        key.close(); // idempotent
    }

    @Test
    void shouldNeverShowMaterialWhenPrinted() {
        try (GcmKey key = GcmKey.copyOf(material())) {
            String hex = HexFormat.of().formatHex(material());
            for (String s : new String[]{key.toString(), key.asJdkKey().toString()}) {
                assertFalse(s.toLowerCase().contains(hex.substring(0, 8)), s);
                assertFalse(s.contains("-96"), s); // first byte as a signed decimal
            }
        }
    }

    @Test
    void shouldRefuseSerializationWhenHandedToObjectStream() throws Exception {
        try (GcmKey key = GcmKey.copyOf(material());
             ObjectOutputStream out = new ObjectOutputStream(new ByteArrayOutputStream())) {
            assertThrows(NotSerializableException.class, () -> out.writeObject(key.asJdkKey()));
        }
    }

    @Test
    void shouldRejectNonAesLengthsWhenCopying() {
        assertThrows(IllegalArgumentException.class, () -> GcmKey.copyOf(new byte[31]));
        assertThrows(IllegalArgumentException.class, () -> GcmKey.copyOf(new byte[0]));
        assertEquals(16, GcmKey.copyOf(new byte[16]).lengthBytes());
    }

    @Test
    void shouldZeroPreviousKeyWhenRotated() {
        GcmKey first = GcmKey.copyOf(material());
        GcmKey second = GcmKey.copyOf(new byte[32]);
        RotatingGcmKey slot = new RotatingGcmKey(first);
        assertEquals(1, slot.rotate(second));
        assertTrue(first.isDestroyed());
        assertFalse(second.isDestroyed());
        assertEquals(second, slot.current());
        slot.close();
        assertTrue(second.isDestroyed());
        assertNull(slot.current());
        assertThrows(IllegalStateException.class, () -> slot.rotate(GcmKey.copyOf(new byte[32])));
    }
}
