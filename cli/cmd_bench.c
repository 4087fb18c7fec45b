/* shrink bench: inference latency per batch size, after warm-up, repeated until the median is stable. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_bench(int argc, char **argv) {
    const char *batches = "1,64", *clock = "wall", *pos[1];
    int json = 0, threads = 0, n_pos;
    double seconds = 1.0;
    cli_opt opts[] = {
        {"--batch", OPT_STR, &batches, 0, 0},      {"--threads", OPT_INT, &threads, 0, 1024},
        {"--json", OPT_FLAG, &json, 0, 0},         {"--seconds", OPT_FLOAT, &seconds, 0.01, 60},
        {"--clock", OPT_STR, &clock, 0, 0},
    };
    int rc = cli_parse("bench", argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 1, &n_pos);
    if (rc != CLI_OK) return rc;
    if (n_pos != 1) return cli_usage("bench", "give one MODEL file");
    int sizes[16];
    int n_sizes = cli_parse_int_list(batches, sizes, 16);
    if (n_sizes < 0) return cli_usage("bench", "--batch expects a list like 1,64 (up to 16 sizes)");
    shr_set_threads(threads);
    int cpu = strcmp(clock, "cpu") == 0;
    if (!cpu && strcmp(clock, "wall") != 0) return cli_usage("bench", "--clock is wall or cpu (got '%s')", clock);
    if (cpu && shr_get_threads() != 1) return cli_usage("bench", "--clock cpu times one thread: add --threads 1");
    shr_bench_set_clock(cpu ? SHR_CLOCK_THREAD_CPU : SHR_CLOCK_WALL);
    shr_graph *g;
    shr_status st = cli_model_open(pos[0], &g);
    if (st != SHR_OK) return cli_fail("bench", st);
    shr_bench_result r[16];
    for (int i = 0; i < n_sizes && rc == CLI_OK; i++)
        if ((st = shr_bench_latency(g, sizes[i], seconds, &r[i])) != SHR_OK) rc = cli_fail("bench", st);
    if (rc == CLI_OK && json) {
        json_t *o = json_object(), *arr = json_array();
        json_object_set_new(o, "model", json_string(pos[0]));
        json_object_set_new(o, "threads", json_integer(shr_get_threads()));
        json_object_set_new(o, "kernels", json_string(shr_cpu_features()));
        json_object_set_new(o, "clock", json_string(cpu ? "thread-cpu" : "wall"));
        for (int i = 0; i < n_sizes; i++) {
            json_t *e = json_object();
            json_object_set_new(e, "batch", json_integer(r[i].batch));
            json_object_set_new(e, "latency_ms_p50", json_real(r[i].p50_ms));
            json_object_set_new(e, "latency_ms_p90", json_real(r[i].p90_ms));
            json_object_set_new(e, "latency_ms_p99", json_real(r[i].p99_ms));
            json_object_set_new(e, "latency_ms_min", json_real(r[i].min_ms));
            json_object_set_new(e, "latency_ms_max", json_real(r[i].max_ms));
            json_object_set_new(e, "samples_per_s", json_real(r[i].samples_per_s));
            json_object_set_new(e, "runs", json_integer(r[i].runs));
            json_object_set_new(e, "arena_bytes", json_integer((json_int_t)r[i].arena_bytes));
            json_array_append_new(arr, e);
        }
        json_object_set_new(o, "results", arr);
        json_object_set_new(o, "peak_rss_bytes", json_integer(cli_peak_rss()));
        rc = cli_print_json("bench", o);
    } else if (rc == CLI_OK) {
        printf("%s: %d thread(s), %s kernels%s\n", pos[0], shr_get_threads(), shr_cpu_features(),
               cpu ? ", runs timed by the thread's CPU clock" : "");
        printf("%6s %10s %10s %10s %12s %6s\n", "batch", "p50 ms", "p90 ms", "p99 ms", "samples/s", "runs");
        for (int i = 0; i < n_sizes; i++)
            printf("%6d %10.4f %10.4f %10.4f %12.0f %6d\n", r[i].batch, r[i].p50_ms, r[i].p90_ms, r[i].p99_ms,
                   r[i].samples_per_s, r[i].runs);
        printf("peak RSS %lld bytes\n", (long long)cli_peak_rss());
    }
    shr_graph_free(g);
    return rc;
}
