package dev.pipellm.bench.harness;

import com.fasterxml.jackson.databind.JsonNode;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Rectangle;
import java.awt.geom.Rectangle2D;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.CategoryAxis;
import org.jfree.chart.axis.CategoryLabelPositions;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.labels.StandardCategoryItemLabelGenerator;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.DatasetRenderingOrder;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.LineAndShapeRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.title.TextTitle;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.svg.SVGGraphics2D;
import org.jfree.svg.SVGUtils;

/**
 * The harness's chart, drawn from a results document (schema {@code pipellm-bench/1}): one group of bars per
 * workload, one bar per mode, the height its throughput over no CC's (so that workloads of different units share
 * an axis; each bar is labelled with that ratio), and the analytic bound of the workload as a marker above the
 * group. Written as PNG (JFreeChart's {@link ChartUtils}) and SVG (JFreeSVG), headless.
 */
final class Chart {
    static final int WIDTH = 960;
    static final int HEIGHT = 540;
    /** The bound's series name in the chart (and in the SVG's text). */
    static final String BOUND = "analytic bound (perfect hiding)";
    private static final Map<String, Color> COLORS = Map.of("nocc", new Color(0x4c78a8), "off", new Color(0xe45756),
            "sync", new Color(0xf58518), "pipellm", new Color(0x54a24b));

    private Chart() {
    }

    /** Draws the chart of {@code results} to {@code png} and {@code svg}. */
    static void write(JsonNode results, Path png, Path svg) {
        System.setProperty("java.awt.headless", "true");
        final JFreeChart chart = build(results);
        try {
            ChartUtils.saveChartAsPNG(png.toFile(), chart, WIDTH, HEIGHT);
            final SVGGraphics2D g = new SVGGraphics2D(WIDTH, HEIGHT);
            chart.draw(g, new Rectangle(0, 0, WIDTH, HEIGHT));
            SVGUtils.writeToSVG(new File(svg.toString()), g.getSVGElement());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the chart to " + png + " and " + svg, e);
        }
    }

    static JFreeChart build(JsonNode results) {
        final DefaultCategoryDataset bars = new DefaultCategoryDataset();
        final DefaultCategoryDataset bound = new DefaultCategoryDataset();
        final Map<String, String> labels = new LinkedHashMap<>();
        for (JsonNode r : results.path("results")) {
            final String w = r.path("workload").asText();
            final String mode = r.path("mode").asText();
            final String label = r.path("mode_label").asText(mode);
            labels.putIfAbsent(mode, label);
            final JsonNode ratio = r.path("ratio_to_no_cc");
            if (ratio.isNumber()) {
                bars.addValue(ratio.asDouble(), label, w);
            } else {
                bars.addValue(null, label, w); // a mode that failed: a gap, named in the legend all the same
            }
            final JsonNode b = r.path("bound_ratio");
            if (b.isNumber() && bound.getColumnIndex(w) < 0) {
                bound.addValue(b.asDouble(), BOUND, w);
            }
        }
        final CategoryAxis x = new CategoryAxis("workload");
        x.setCategoryLabelPositions(CategoryLabelPositions.STANDARD);
        final NumberAxis y = new NumberAxis("throughput / no CC (same run)");
        y.setRange(0, 1.15);
        final BarRenderer r = new BarRenderer();
        r.setBarPainter(new StandardBarPainter());
        r.setShadowVisible(false);
        r.setItemMargin(0.04);
        r.setDefaultItemLabelGenerator(new StandardCategoryItemLabelGenerator("{2}",
                new java.text.DecimalFormat("0.00")));
        r.setDefaultItemLabelsVisible(true);
        r.setDefaultItemLabelFont(new Font(Font.SANS_SERIF, Font.PLAIN, 10));
        int i = 0;
        for (String mode : labels.keySet()) {
            r.setSeriesPaint(i++, COLORS.getOrDefault(mode, Color.GRAY));
        }
        final CategoryPlot plot = new CategoryPlot(bars, x, y, r);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(new Color(0xdddddd));
        final LineAndShapeRenderer marks = new LineAndShapeRenderer(false, true);
        marks.setSeriesPaint(0, Color.BLACK);
        marks.setSeriesShape(0, new Rectangle2D.Double(-28, -2, 56, 4)); // a bar across the group
        marks.setSeriesStroke(0, new BasicStroke(2f));
        plot.setDataset(1, bound);
        plot.setRenderer(1, marks);
        plot.setDatasetRenderingOrder(DatasetRenderingOrder.FORWARD);
        final JFreeChart chart = new JFreeChart("PipeLLM on simgpu: throughput per workload and mode",
                JFreeChart.DEFAULT_TITLE_FONT, plot, true);
        chart.setBackgroundPaint(Color.WHITE);
        chart.addSubtitle(new TextTitle(subtitle(results), new Font(Font.SANS_SERIF, Font.PLAIN, 11)));
        return chart;
    }

    private static String subtitle(JsonNode results) {
        final JsonNode m = results.path("machine");
        final JsonNode p = results.path("parameters");
        final JsonNode c = results.path("calibration");
        return String.format(Locale.ROOT, "%d cores, load at start %s; %d round(s), medians; bound: %d worker(s), "
                        + "memcpy %.1f GB/s, AES-256-GCM %.1f GB/s; %s", m.path("cores").asInt(),
                String.join(" ", Arrays.copyOf(m.path("load_at_start").asText("?").split(" "), 1)),
                p.path("repeats").asInt(), c.path("workers").asInt(), c.path("memcpy_gbps").asDouble(),
                c.path("aes_256_gcm_gbps").asDouble(), results.path("generated_at").asText("").replaceAll(
                        ":\\d\\d\\.\\d+Z$", "Z"));
    }

    /** The series names a chart of {@code results} shows (the modes' labels, then the bound). */
    static List<String> seriesNames(JsonNode results) {
        final JFreeChart c = build(results);
        final CategoryPlot p = c.getCategoryPlot();
        final java.util.ArrayList<String> names = new java.util.ArrayList<>();
        for (Object k : p.getDataset(0).getRowKeys()) {
            names.add(k.toString());
        }
        for (Object k : p.getDataset(1).getRowKeys()) {
            names.add(k.toString());
        }
        return names;
    }
}
