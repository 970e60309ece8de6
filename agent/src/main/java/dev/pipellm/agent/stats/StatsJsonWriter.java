package dev.pipellm.agent.stats;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Writes the statistics as one flat JSON object: {@code "mode"} then every {@link StatCounter} key in
 * declaration order. The file is written to a temporary sibling and moved into place, so a reader never
 * sees half an object.
 */
public final class StatsJsonWriter {
    private StatsJsonWriter() {}

    public static String toJson(String mode, Counters counters) {
        StringBuilder sb = new StringBuilder(1024);
        sb.append("{\n  \"mode\": \"").append(mode).append('"');
        for (StatCounter c : StatCounter.values()) {
            sb.append(",\n  \"").append(c.key).append("\": ").append(counters.get(c));
        }
        return sb.append("\n}\n").toString();
    }

    public static void write(Path path, String mode, Counters counters) throws IOException {
        Path abs = path.toAbsolutePath();
        Path parent = abs.getParent();
        if (parent != null) Files.createDirectories(parent);
        Path tmp = abs.resolveSibling(abs.getFileName() + ".tmp" + ProcessHandle.current().pid());
        Files.writeString(tmp, toJson(mode, counters), StandardCharsets.UTF_8);
        try {
            Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
