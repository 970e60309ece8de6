package dev.pipellm.bench.harness;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.NodeList;

class ChartTest {
    @TempDir
    Path dir;

    private static JsonNode results() throws Exception {
        final StringBuilder b = new StringBuilder("{\"schema\": \"pipellm-bench/1\", \"generated_at\": \"now\", "
                + "\"machine\": {\"cores\": 2, \"load_at_start\": \"1.0\"}, \"parameters\": {\"repeats\": 3}, "
                + "\"calibration\": {\"workers\": 1, \"memcpy_gbps\": 10, \"aes_256_gcm_gbps\": 12}, \"results\": [");
        final String[][] modes = {{"nocc", "no CC", "1.0"}, {"off", "vanilla CC", "0.3"}, {"sync", "sync", "0.4"},
            {"pipellm", "pipellm", "null"}};
        boolean first = true;
        for (String w : List.of("flexgen-opt30b", "lora-conv")) {
            for (String[] m : modes) {
                b.append(first ? "" : ",").append("{\"workload\": \"").append(w).append("\", \"mode\": \"")
                        .append(m[0]).append("\", \"mode_label\": \"").append(m[1]).append("\", \"ratio_to_no_cc\": ")
                        .append(m[2]).append(", \"bound_ratio\": 0.55}");
                first = false;
            }
        }
        return Harness.JSON.readTree(b.append("]}").toString());
    }

    @Test
    void shouldWriteAPngAndAWellFormedSvgNamingEveryModeAndTheBound() throws Exception {
        final Path png = dir.resolve("chart.png");
        final Path svg = dir.resolve("chart.svg");
        Chart.write(results(), png, svg);
        final byte[] head = Arrays.copyOf(Files.readAllBytes(png), 8);
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, head);
        assertTrue(javax.imageio.ImageIO.read(png.toFile()).getWidth() == Chart.WIDTH);
        final DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        // JFreeSVG writes the SVG 1.1 DOCTYPE: well-formedness needs no fetch of its DTD (no network here)
        f.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
        final Document d = f.newDocumentBuilder().parse(svg.toFile());
        assertEquals("svg", d.getDocumentElement().getTagName());
        final NodeList texts = d.getElementsByTagName("text");
        final List<String> words = new ArrayList<>();
        for (int i = 0; i < texts.getLength(); i++) {
            words.add(texts.item(i).getTextContent());
        }
        for (String name : List.of("no CC", "vanilla CC", "sync", "pipellm", Chart.BOUND, "flexgen-opt30b",
                "lora-conv")) {
            assertTrue(words.contains(name), name + " not among the SVG's texts " + words);
        }
        // a failed mode (null ratio) is a gap, still named in the legend
        assertEquals(List.of("no CC", "vanilla CC", "sync", "pipellm", Chart.BOUND), Chart.seriesNames(results()));
    }
}
