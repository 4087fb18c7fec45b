/* SVG writer: ticks, escaping, shapes, and a full plot that must be well-formed XML. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/svg.h"
#include "shrink/io.h"
#include "test.h"
#include "xml_check.h"

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static void test_nice_ticks(void) {
    double t[64];
    int n = shr_svg_nice_ticks(0, 1, 6, t, 64);
    CHECK(n == 6);
    for (int i = 0; i < n; i++) CHECK(t[i] == i * 0.2 || fabs(t[i] - i * 0.2) < 1e-12);
    CHECK(t[0] == 0.0);
    n = shr_svg_nice_ticks(85.3, 92.1, 6, t, 64); /* step 2: 86, 88, 90, 92 */
    CHECK(n == 4);
    CHECK_NEAR(t[0], 86, 1e-12);
    CHECK_NEAR(t[3], 92, 1e-12);
    n = shr_svg_nice_ticks(-0.37, 0.41, 5, t, 64); /* step 0.2 over zero: exact 0 */
    CHECK(n == 4);
    CHECK(t[1] == 0.0);
    n = shr_svg_nice_ticks(-0.1, 0.9, 6, t, 64); /* first tick is +0, not -0 */
    CHECK(n == 5);
    CHECK(t[0] == 0.0 && !signbit(t[0]));
    CHECK(shr_svg_nice_ticks(1, 1, 6, t, 64) == 0);
    CHECK(shr_svg_nice_ticks(0, NAN, 6, t, 64) == 0);
    CHECK(shr_svg_nice_ticks(0, 1e6, 6, t, 3) == 3); /* cap respected */
}

static void test_log_ticks(void) {
    double t[64];
    int n = shr_svg_log_ticks(10, 10000, t, 64);
    CHECK(n == 4);
    CHECK_NEAR(t[0], 10, 1e-12);
    CHECK_NEAR(t[3], 10000, 1e-12);
    n = shr_svg_log_ticks(100, 400, t, 64); /* 1-2-5 gives 2: all multiples */
    CHECK(n == 4);
    CHECK_NEAR(t[1], 200, 1e-12);
    CHECK_NEAR(t[3], 400, 1e-12);
    n = shr_svg_log_ticks(110, 1100, t, 64); /* 200, 500, 1000: enough, no crowding */
    CHECK(n == 3);
    CHECK_NEAR(t[0], 200, 1e-12);
    CHECK_NEAR(t[2], 1000, 1e-12);
    n = shr_svg_log_ticks(3, 700, t, 64); /* 5, 10, 20, 50, 100, 200, 500 */
    CHECK(n == 7);
    CHECK_NEAR(t[0], 5, 1e-12);
    CHECK(shr_svg_log_ticks(0, 10, t, 64) == 0);
}

static void test_escaping_and_shapes(void) {
    shr_svg s;
    shr_svg_begin(&s, 320, 200);
    shr_svg_text(&s, 10, 20, "a<b & \"c\" 'd'>\x01", 12, SHR_SVG_START, NULL, 0);
    shr_svg_group_begin(&s, "tip <&>");
    shr_svg_circle(&s, NAN, INFINITY, 3, "red", NULL);
    shr_svg_group_end(&s);
    double xs[3] = {1, 2.5, 3}, ys[3] = {4, -0.0, 6};
    shr_svg_polyline(&s, xs, ys, 3, "#000", 1);
    shr_svg_line(&s, 0, 0, 1, 1, "blue", 2);
    shr_svg_rect(&s, 0, 0, -5, 10, NULL, "x\"y");
    shr_svg_text(&s, 50, 60, "rotated", 12, SHR_SVG_MIDDLE, "#123", -90);
    char *out = NULL;
    CHECK_OK(shr_svg_end(&s, &out));
    if (!out) return;
    CHECK(strstr(out, "width=\"320\" height=\"200\" viewBox=\"0 0 320 200\""));
    CHECK(strstr(out, "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;?</text>"));
    CHECK(strstr(out, "<title>tip &lt;&amp;&gt;</title>"));
    CHECK(strstr(out, "stroke=\"x&quot;y\""));
    CHECK(strstr(out, "points=\"1,4 2.5,0 3,6\""));
    CHECK(strstr(out, "rotate(-90 50 60)"));
    CHECK(!strstr(out, "nan") && !strstr(out, "inf"));
    CHECK(strstr(out, "width=\"0\"")); /* negative width clamped */
    const char *err = xml_check(out);
    CHECK_MSG(err == NULL, "%s", err);
    free(out);
}

static void test_checker_can_fail(void) {
    CHECK(xml_check("<svg><g></svg>") != NULL);
    CHECK(xml_check("<svg>a < b</svg>") != NULL);
    CHECK(xml_check("<svg>a & b</svg>") != NULL);
    CHECK(xml_check("<svg x=1/>") != NULL);
    CHECK(xml_check("<svg/><svg/>") != NULL);
    CHECK(xml_check("<svg x=\"1\"><g/>&amp;</svg>") == NULL);
}

static char *plot_document(void) {
    double size[4] = {400, 110, 98, 30}, acc[4] = {91.2, 90.8, NAN, 88.0};
    const char *labels[4] = {"cnn f32", "cnn <int8>", "lost", "pruned & int8"};
    int filled[4] = {1, 0, 1, 1};
    double fx[3] = {30, 110, 400}, fy[3] = {88.0, 90.8, 91.2};
    shr_plot_series ser[2] = {
        {.name = "models", .n = 4, .x = size, .y = acc, .labels = labels, .filled = filled, .markers = 1},
        {.name = "Pareto front", .n = 3, .x = fx, .y = fy, .line = 1, .dashed = 1, .color = "#777777"},
    };
    shr_svg s;
    shr_svg_begin(&s, 640, 400);
    shr_svg_plot(&s, &(shr_plot){.x = 0, .y = 0, .width = 640, .height = 400, .title = "Accuracy & size",
                                 .x_label = "file size (KiB, log)", .y_label = "accuracy (%)", .log_x = 1,
                                 .n_series = 2, .series = ser});
    char *out = NULL;
    CHECK_OK(shr_svg_end(&s, &out));
    return out;
}

static void test_plot(void) {
    char *out = plot_document();
    if (!out) return;
    const char *err = xml_check(out);
    CHECK_MSG(err == NULL, "%s", err);
    /* 3 usable points (the NaN one is skipped) + 1 legend marker. */
    CHECK(count(out, "<circle") == 4);
    CHECK(count(out, "fill=\"#ffffff\" stroke=\"#D55E00\"") == 0);
    CHECK(count(out, "fill=\"#ffffff\" stroke=\"#0072B2\"") == 1); /* the hollow one */
    CHECK(strstr(out, "cnn &lt;int8&gt;"));
    CHECK(strstr(out, "pruned &amp; int8"));
    CHECK(!strstr(out, ">lost<"));
    CHECK(strstr(out, "stroke-dasharray"));
    CHECK(strstr(out, ">Accuracy &amp; size</text>"));
    CHECK(strstr(out, ">100</text>")); /* a log tick */
    CHECK(!strstr(out, "nan"));
    /* And the real parser agrees, when it is installed. */
    if (system("command -v xmllint >/dev/null 2>&1") == 0) {
        const char *dir = getenv("SHR_TMPDIR") ? getenv("SHR_TMPDIR") : "/tmp";
        char path[512], cmd[1100];
        snprintf(path, sizeof path, "%s/test_svg_plot.svg", dir);
        CHECK_OK(shr_write_file_atomic(path, out, strlen(out)));
        snprintf(cmd, sizeof cmd, "xmllint --noout '%s'", path);
        CHECK(system(cmd) == 0);
        remove(path);
    } else {
        fprintf(stderr, "note: xmllint not installed; only the built-in well-formedness check ran\n");
    }
    free(out);
}

static void test_heatmap(void) {
    char c[8];
    shr_svg_ramp(0, c);
    CHECK(strcmp(c, "#f7fbff") == 0);
    shr_svg_ramp(1, c);
    CHECK(strcmp(c, "#08306b") == 0);
    shr_svg_ramp(7, c); /* clamped */
    CHECK(strcmp(c, "#08306b") == 0);
    float v[6] = {0, 1, NAN, 0.5f, 1, 0};
    shr_svg s;
    shr_svg_begin(&s, 100, 100);
    shr_svg_heatmap(&s, 10, 20, 5, 4, v, 2, 3);
    char *out = NULL;
    CHECK_OK(shr_svg_end(&s, &out));
    if (!out) return;
    CHECK(count(out, "<rect") == 7); /* background + 6 cells */
    CHECK(count(out, "fill=\"#08306b\"") == 2);
    CHECK(count(out, "fill=\"#bbbbbb\"") == 1);
    CHECK(strstr(out, "x=\"20\" y=\"24\" width=\"5\" height=\"4\" fill=\"#f7fbff\"")); /* row 1, col 2 */
    CHECK(xml_check(out) == NULL);
    free(out);
}

static void test_palette(void) {
    CHECK(strcmp(shr_svg_palette(0), shr_svg_palette(7)) == 0);
    CHECK(strcmp(shr_svg_palette(0), shr_svg_palette(1)) != 0);
    CHECK(shr_svg_palette(-1) != NULL);
}

int main(void) {
    RUN(test_nice_ticks);
    RUN(test_log_ticks);
    RUN(test_escaping_and_shapes);
    RUN(test_checker_can_fail);
    RUN(test_plot);
    RUN(test_heatmap);
    RUN(test_palette);
    return test_summary();
}
