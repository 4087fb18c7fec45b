/* The comparison on hand-built models: derived figures against the reference,
 * Pareto marks, and every output format (text, Markdown, CSV, JSON, SVG, HTML). */
#include <jansson.h>
#include <string.h>

#include "report_test_util.h"
#include "shrink/io.h"
#include "shrink/report.h"
#include "shrink/threads.h"
#include "xml_check.h"

enum { N = 3 };

typedef struct fixture {
    shr_graph *g[N];
    shr_compare_model m[N];
    shr_compare c;
} fixture;

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* Three variants: a reference, a pruned one (half the conv weights zero) and a
 * "small" one, with fixed file sizes, accuracies and latencies:
 *   name         file   acc    p50 b1  p50 b64
 *   ref          1000   0.90   2.0     20
 *   pruned, "x"   400   0.88   1.0     10    <- optimal in size and latency
 *   big          1200   0.85   4.0     40    <- dominated in both */
static int setup(fixture *f) {
    memset(f, 0, sizeof *f);
    tiny_model t;
    static const char *names[N] = {"ref", "pruned, \"x\"", "big"};
    static const int64_t bytes[N] = {1000, 400, 1200};
    static const double acc[N] = {0.90, 0.88, 0.85}, p50[N] = {2.0, 1.0, 4.0};
    for (int i = 0; i < N; i++) {
        if (!(f->g[i] = tiny_build(&t, 1))) return 0;
        f->m[i] = (shr_compare_model){.name = names[i], .path = names[i], .graph = f->g[i], .file_bytes = bytes[i],
                                      .peak_rss_bytes = 5 << 20};
    }
    float *cw = shr_f32(f->g[1]->values[t.conv_w].data);
    for (int i = 0; i < 18; i += 2) cw[i] = 0;
    CHECK_OK(shr_graph_add_lineage(f->g[0], "train arch=cnn epochs=2 seed=1"));
    CHECK_OK(shr_graph_add_lineage(f->g[1], "train arch=cnn epochs=2 seed=1"));
    CHECK_OK(shr_lineage_add_step(f->g[1], "prune method=magnitude amount=0.5 <&>",
                                  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
    f->c = (shr_compare){.models = f->m, .n = N, .reference = 0, .n_batches = 2, .batches = {1, 64},
                         .data = "synthetic", .command = "shrink compare a b c", .threads = 1,
                         .kernels = "generic", .base_rss_bytes = 1 << 20};
    for (int i = 0; i < N; i++) {
        CHECK_OK(shr_compare_measure(&f->m[i], NULL, 16));
        f->m[i].accuracy = acc[i];
        for (int b = 0; b < 2; b++) {
            double ms = p50[i] * (b ? 10 : 1);
            f->m[i].lat[b] = (shr_bench_result){.batch = f->c.batches[b], .p50_ms = ms, .p90_ms = ms, .p99_ms = 1.5 * ms,
                                                .min_ms = ms, .max_ms = 2 * ms, .runs = 10, .rounds = 3,
                                                .noise_pct = 2.5 * (i + 1), .arena_bytes = 4096,
                                                .samples_per_s = f->c.batches[b] / (ms * 1e-3)};
        }
    }
    shr_compare_finish(&f->c);
    return 1;
}

static void teardown(fixture *f) {
    for (int i = 0; i < N; i++) shr_graph_free(f->g[i]);
}

static void test_derived(void) {
    fixture f;
    if (!setup(&f)) return;
    CHECK_NEAR(f.m[1].size_ratio, 0.4, 1e-12);
    CHECK_NEAR(f.m[0].size_ratio, 1.0, 1e-12);
    CHECK_NEAR(f.m[1].delta_pt, -2.0, 1e-9);
    CHECK_NEAR(f.m[2].delta_pt, -5.0, 1e-9);
    CHECK_NEAR(f.m[1].speedup[0], 2.0, 1e-12);
    CHECK_NEAR(f.m[2].speedup[1], 0.5, 1e-12);
    CHECK(f.m[0].pareto_size && f.m[1].pareto_size && !f.m[2].pareto_size);
    CHECK(f.m[0].pareto_latency && f.m[1].pareto_latency && !f.m[2].pareto_latency);
    CHECK(f.m[1].metrics.nonzero_params == TINY_PARAMS - 9);
    CHECK(f.m[1].metrics.effective_flops == f.m[0].metrics.effective_flops - TINY_CONV_FLOPS / 2);
    /* Another reference: the derived figures follow it. */
    f.c.reference = 1;
    shr_compare_finish(&f.c);
    CHECK_NEAR(f.m[0].size_ratio, 2.5, 1e-12);
    CHECK_NEAR(f.m[0].delta_pt, 2.0, 1e-9);
    CHECK_NEAR(f.m[0].speedup[0], 0.5, 1e-12);
    teardown(&f);
}

static void test_text_and_markdown(void) {
    fixture f;
    if (!setup(&f)) return;
    char *t = NULL, *md = NULL;
    CHECK_OK(shr_compare_table(&f.c, SHR_TABLE_TEXT, &t));
    CHECK_OK(shr_compare_table(&f.c, SHR_TABLE_MARKDOWN, &md));
    if (t && md) {
        /* Header + 3 rows, every row as wide as the header (aligned). */
        const char *l0 = t, *l1 = strchr(l0, '\n') + 1, *l2 = strchr(l1, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
        CHECK(strncmp(l1, "SL     ref  ", 12) == 0);
        CHECK(strncmp(l3, "       big  ", 12) == 0);
        CHECK(strchr(l1, '\n') - l1 + 1 == strchr(l0, '\n') - l0); /* same width; the header's Δ is 2 bytes */
        CHECK(strstr(l2, "0.400x") && strstr(l2, "-2.00") && strstr(l2, "2.00x"));
        CHECK(strstr(l3, "1.2") && strstr(l3, "-5.00") && strstr(l3, "0.50x"));
        CHECK(strstr(t, "b1 p50 ms") && strstr(t, "b64 samples/s") && strstr(t, "peak RSS MiB"));
        CHECK(strstr(t, "noise (spread of round medians, worst model): b1 7.5% b64 7.5%"));
        CHECK(strstr(t, "cnn \xe2\x86\x92 prune magnitude 0.5 <&>"));
        CHECK(strstr(t, "empty process 1.0 MiB"));
        CHECK(strncmp(md, "| front | model |", 17) == 0 && count(md, "\n| ") == 3);
        CHECK(strstr(md, "|---:") && strstr(md, "|:---"));
        CHECK(strstr(md, "- front: S = Pareto-optimal"));
    }
    free(t);
    free(md);
    teardown(&f);
}

static void test_csv(void) {
    fixture f;
    if (!setup(&f)) return;
    char *csv = NULL;
    CHECK_OK(shr_compare_table(&f.c, SHR_TABLE_CSV, &csv));
    if (!csv) return;
    CHECK(count(csv, "\n") == 4);
    const char *head = "pareto,name,file_bytes,size_ratio,params,nonzero_params,flops,weight_bytes,";
    CHECK(strncmp(csv, head, strlen(head)) == 0);
    CHECK(strstr(csv, "latency_ms_b1,") && strstr(csv, "samples_per_s_b64,lineage\n"));
    CHECK(strstr(csv, "size+latency,\"pruned, \"\"x\"\"\",400,0.4,119,110,")); /* quoted, exact numbers */
    CHECK(strstr(csv, "\n,big,1200,1.2,"));
    free(csv);
    teardown(&f);
}

static void test_json(void) {
    fixture f;
    if (!setup(&f)) return;
    char *s = NULL;
    CHECK_OK(shr_compare_json(&f.c, &s));
    json_error_t err;
    json_t *a = s ? json_loads(s, 0, &err) : NULL;
    CHECK_MSG(a && json_is_array(a) && json_array_size(a) == N, "%s", a ? "not an array of 3" : err.text);
    static const char *keys[] = {"name", "lineage", "file_bytes", "params", "nonzero_params", "flops", "accuracy",
                                 "latency_ms_b1", "latency_ms_b64", "peak_rss_bytes"};
    for (size_t i = 0; a && i < json_array_size(a); i++)
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            CHECK_MSG(json_object_get(json_array_get(a, i), keys[k]), "model %zu lacks %s", i, keys[k]);
    json_t *p = a ? json_array_get(a, 1) : NULL;
    if (p) {
        CHECK(strcmp(json_string_value(json_object_get(p, "name")), "pruned, \"x\"") == 0);
        CHECK(json_integer_value(json_object_get(p, "file_bytes")) == 400);
        CHECK(json_integer_value(json_object_get(p, "nonzero_params")) == TINY_PARAMS - 9);
        CHECK(json_integer_value(json_object_get(p, "flops")) == f.m[1].metrics.effective_flops);
        CHECK_NEAR(json_real_value(json_object_get(p, "latency_ms_b64")), 10.0, 1e-9);
        CHECK_NEAR(json_real_value(json_object_get(p, "accuracy")), 0.88, 1e-9);
        CHECK(json_is_true(json_object_get(p, "pareto_size")));
        CHECK(json_array_size(json_object_get(p, "lineage_steps")) == 2);
        CHECK(json_is_null(json_object_get(p, "loss"))); /* not measured: null, never NaN */
    }
    json_decref(a);
    free(s);
    teardown(&f);
}

static void test_svg_and_html(void) {
    fixture f;
    if (!setup(&f)) return;
    char *svg = NULL, *html = NULL;
    CHECK_OK(shr_compare_svg(&f.c, &svg));
    CHECK_OK(shr_compare_html(&f.c, &html));
    if (svg) {
        const char *e = xml_check(svg);
        CHECK_MSG(e == NULL, "%s", e);
        CHECK(strstr(svg, "Accuracy vs file size") && strstr(svg, "Accuracy vs latency"));
        CHECK(count(svg, ">pruned, &quot;x&quot;</text>") == 2); /* labelled in both panels */
        CHECK(count(svg, "stroke-dasharray") >= 2);                /* both fronts */
        if (system("command -v xmllint >/dev/null 2>&1") == 0) {
            char path[512], cmd[1100];
            snprintf(path, sizeof path, "%s/test_compare.svg", test_tmpdir());
            CHECK_OK(shr_write_file_atomic(path, svg, strlen(svg)));
            snprintf(cmd, sizeof cmd, "xmllint --noout '%s'", path);
            CHECK(system(cmd) == 0);
            remove(path);
        }
    }
    if (html) {
        CHECK(strncmp(html, "<!DOCTYPE html>", 15) == 0);
        CHECK(count(html, "<svg") == 2); /* the plots, and the pruned conv's density map */
        CHECK(!strstr(html, "<script") && !strstr(html, "src=") && !strstr(html, "href="));
        CHECK(strstr(html, "prune method=magnitude amount=0.5 &lt;&amp;&gt; source=sha256:0123456789abcdef"));
        CHECK(strstr(html, "<tr class=\"front ref\">"));
        /* The pruned conv layer: 11 of its 20 params (weight and bias) non-zero. */
        CHECK(strstr(html, "<td class=\"l\">conv2d</td>") && strstr(html, "width:55.0%"));
        CHECK(strstr(html, "</body></html>"));
    }
    free(svg);
    free(html);
    teardown(&f);
}

/* The real measuring path: accuracy on a tiny dataset, interleaved latency. */
static void test_measure_and_time(void) {
    fixture f;
    if (!setup(&f)) return;
    shr_set_threads(1);
    f.c.batches[1] = 4;
    CHECK_OK(shr_compare_latency(&f.c, 0.01));
    for (int i = 0; i < N; i++)
        for (int b = 0; b < 2; b++) {
            const shr_bench_result *l = &f.m[i].lat[b];
            CHECK(l->batch == f.c.batches[b] && l->runs >= 10 && l->rounds >= 2);
            CHECK(l->p50_ms > 0 && l->min_ms <= l->p50_ms && l->p50_ms <= l->p99_ms && l->p99_ms <= l->max_ms);
            CHECK(l->arena_bytes > 0 && l->noise_pct >= 0);
        }
    /* The thread's CPU clock: the same figures' shape; refused with 2 threads. */
    shr_bench_set_clock(SHR_CLOCK_THREAD_CPU);
    CHECK(shr_bench_get_clock() == SHR_CLOCK_THREAD_CPU);
    CHECK_OK(shr_compare_latency(&f.c, 0.01));
    for (int i = 0; i < N; i++) {
        const shr_bench_result *l = &f.m[i].lat[0];
        CHECK(l->runs >= 10 && l->p50_ms > 0 && l->min_ms <= l->p50_ms && l->p50_ms <= l->max_ms);
    }
    shr_set_threads(2);
    CHECK_STATUS(shr_compare_latency(&f.c, 0.01), SHR_ERR_INVALID_ARG);
    shr_set_threads(1);
    f.c.clock = SHR_CLOCK_THREAD_CPU;
    shr_compare_finish(&f.c);
    char *text = NULL;
    CHECK_OK(shr_compare_table(&f.c, SHR_TABLE_TEXT, &text));
    CHECK(text && strstr(text, "runs timed by the thread's CPU clock"));
    free(text);
    shr_bench_set_clock(SHR_CLOCK_WALL);
    f.c.n_batches = 0;
    CHECK_STATUS(shr_compare_latency(&f.c, 0.01), SHR_ERR_INVALID_ARG);
    teardown(&f);
}

int main(void) {
    if (!tiny_ops_linked()) return 1;
    RUN(test_derived);
    RUN(test_text_and_markdown);
    RUN(test_csv);
    RUN(test_json);
    RUN(test_svg_and_html);
    RUN(test_measure_and_time);
    return test_summary();
}
