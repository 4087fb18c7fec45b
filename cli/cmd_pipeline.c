/* shrink pipeline: run a recipe's steps as subcommands of this same binary
 * (each in its own process, so every option of the subcommand is available and
 * a failure stays in its step), skip the steps already done, and end with the
 * comparison of every step's output. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "pipeline/pipeline.h"

static char self_exe[4096];

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Runs this binary with argv (argv[0] is only a name). quiet: no output at all;
 * else the child's stdout goes to our stderr when to_stderr is set. Returns the
 * exit code, 128 + signal for a killed child, or -1 when it could not start. */
static int run_self(char *const *argv, int quiet, int to_stderr) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (quiet) {
            int fd = open("/dev/null", O_WRONLY);
            if (fd >= 0) dup2(fd, 1), dup2(fd, 2);
        } else if (to_stderr) {
            dup2(2, 1);
        }
        execv(self_exe, argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

static int has_command(const char *name) {
    char *argv[] = {"shrink", "help", (char *)name, NULL};
    return run_self(argv, 1, 0) == 0;
}

static void print_argv(char *const *argv) {
    for (int i = 0; argv[i]; i++) fprintf(stderr, "%s%s", i ? " " : "", argv[i]);
    fputc('\n', stderr);
}

static int make_dirs(const char *path) {
    char buf[2048];
    if (strlen(path) >= sizeof buf) return -1;
    strcpy(buf, path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        if (!(*p = c)) break;
    }
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

/* Runs step i unless the state says it is done. 0 ok, else the exit code. */
static int run_step(const shr_recipe *r, int i, json_t *state, int *ran, double *seconds) {
    const shr_recipe_step *s = &r->steps[i];
    char hash[17];
    shr_status st = shr_step_hash(s, hash);
    if (st != SHR_OK) return cli_fail("pipeline", st);
    *ran = 0;
    *seconds = 0;
    if (shr_state_is_done(state, s, hash)) {
        fprintf(stderr, "[%d/%d] %s (%s): up to date, skipped\n", i + 1, r->n_steps, s->name, s->run);
        return CLI_OK;
    }
    if (!has_command(s->run)) {
        fprintf(stderr,
                "shrink pipeline: error: step %d '%s' needs 'shrink %s', which this build does not have yet; the "
                "steps before it are saved, a re-run resumes here\n",
                i + 1, s->name, s->run);
        return CLI_FAIL;
    }
    fprintf(stderr, "[%d/%d] %s: ", i + 1, r->n_steps, s->name);
    print_argv(s->argv);
    double t0 = now_s();
    int rc = run_self(s->argv, 0, 1);
    *seconds = now_s() - t0;
    if (rc != 0) {
        fprintf(stderr, "shrink pipeline: error: step %d '%s' (%s) failed (%s %d); fix it and re-run to resume here\n",
                i + 1, s->name, s->run, rc > 128 ? "signal" : "exit code", rc > 128 ? rc - 128 : rc);
        return CLI_FAIL;
    }
    *ran = 1;
    if ((st = shr_state_mark_done(state, s, hash, *seconds)) != SHR_OK ||
        (st = shr_state_save(r->state_path, state)) != SHR_OK)
        return cli_fail("pipeline", st);
    return CLI_OK;
}

/* The outputs that are models (an export may write ONNX or C). */
static int is_model(const char *path) {
    size_t n = strlen(path);
    return n > 5 && strcmp(path + n - 5, ".shrk") == 0;
}

/* `shrink compare` over the model outputs, when this build has it. */
static int run_compare(const shr_recipe *r) {
    char **argv = calloc((size_t)(r->n_steps + r->compare_argc + 6), sizeof *argv);
    if (!argv) return CLI_FAIL;
    int n = 0;
    argv[n++] = "shrink";
    argv[n++] = "compare";
    for (int i = 0; i < r->n_steps; i++)
        if (is_model(r->steps[i].output)) argv[n++] = r->steps[i].output;
    argv[n++] = "--data";
    argv[n++] = r->data;
    for (int i = 0; i < r->compare_argc; i++) argv[n++] = r->compare_argv[i];
    argv[n] = NULL;
    fprintf(stderr, "comparison: ");
    print_argv(argv);
    int rc = run_self(argv, 0, 0);
    free(argv);
    if (rc != 0) fprintf(stderr, "shrink pipeline: error: the comparison failed (exit code %d)\n", rc);
    return rc == 0 ? CLI_OK : CLI_FAIL;
}

typedef struct step_row {
    double accuracy;
    int64_t params, nonzero, bytes;
    int loaded;
} step_row;

static void measure(const shr_recipe *r, const shr_dataset *test, int i, step_row *row) {
    memset(row, 0, sizeof *row);
    row->accuracy = -1;
    row->bytes = cli_file_size(r->steps[i].output);
    shr_graph *g = NULL;
    if (!is_model(r->steps[i].output) || shr_model_load(r->steps[i].output, &g) != SHR_OK) return;
    row->loaded = 1;
    row->params = shr_graph_param_count(g);
    row->nonzero = shr_graph_nonzero_count(g);
    shr_eval_result ev;
    if (test && shr_evaluate(g, test, 256, &ev) == SHR_OK) row->accuracy = ev.accuracy;
    shr_graph_free(g);
}

/* Our own table: accuracy on the test split, parameters, non-zeros, file size. */
static int print_table(const shr_recipe *r, const int *ran, const double *secs, int json) {
    shr_dataset *test = NULL;
    if (shr_dataset_load(r->data, SHR_SPLIT_TEST, r->test_limit, &test) != SHR_OK)
        fprintf(stderr, "shrink pipeline: note: no accuracy column: %s\n", shr_last_error());
    json_t *steps = json ? json_array() : NULL;
    if (!json)
        printf("%-16s %-9s %9s %10s %10s %12s  %s\n", "step", "run", "accuracy", "params", "nonzero", "file bytes",
               "output");
    for (int i = 0; i < r->n_steps; i++) {
        step_row row;
        measure(r, test, i, &row);
        const shr_recipe_step *s = &r->steps[i];
        if (json) {
            json_t *o = json_object();
            json_object_set_new(o, "name", json_string(s->name));
            json_object_set_new(o, "run", json_string(s->run));
            json_object_set_new(o, "output", json_string(s->output));
            json_object_set_new(o, "status", json_string(ran[i] ? "ran" : "skipped"));
            json_object_set_new(o, "seconds", json_real(secs[i]));
            json_object_set_new(o, "accuracy", row.accuracy >= 0 ? json_real(row.accuracy) : json_null());
            json_object_set_new(o, "params", row.loaded ? json_integer(row.params) : json_null());
            json_object_set_new(o, "nonzero_params", row.loaded ? json_integer(row.nonzero) : json_null());
            json_object_set_new(o, "file_bytes", json_integer(row.bytes));
            json_array_append_new(steps, o);
            continue;
        }
        char acc[16] = "-", params[24] = "-", nz[24] = "-";
        if (row.accuracy >= 0) snprintf(acc, sizeof acc, "%.4f", row.accuracy);
        if (row.loaded) snprintf(params, sizeof params, "%lld", (long long)row.params);
        if (row.loaded) snprintf(nz, sizeof nz, "%lld", (long long)row.nonzero);
        printf("%-16s %-9s %9s %10s %10s %12lld  %s\n", s->name, s->run, acc, params, nz, (long long)row.bytes,
               s->output);
    }
    shr_dataset_free(test);
    if (!json) return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
    json_t *o = json_object();
    json_object_set_new(o, "workdir", json_string(r->workdir));
    json_object_set_new(o, "state", json_string(r->state_path));
    json_object_set_new(o, "steps", steps);
    return cli_print_json("pipeline", o);
}

int cmd_pipeline(int argc, char **argv) {
    int from_scratch = 0, json = 0, dry_run = 0, n_pos;
    const char *pos[1];
    cli_opt opts[] = {
        {"--from-scratch", OPT_FLAG, &from_scratch, 0, 0},
        {"--dry-run", OPT_FLAG, &dry_run, 0, 0},
        {"--json", OPT_FLAG, &json, 0, 0},
    };
    int rc = cli_parse("pipeline", argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 1, &n_pos);
    if (rc != CLI_OK) return rc;
    if (n_pos != 1) return cli_usage("pipeline", "give one RECIPE.json");
    ssize_t len = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (len <= 0) {
        fprintf(stderr, "shrink pipeline: error: cannot find this program's path (/proc/self/exe)\n");
        return CLI_FAIL;
    }
    self_exe[len] = '\0';
    shr_recipe *r;
    shr_status st = shr_recipe_load(pos[0], &r);
    if (st != SHR_OK) return cli_fail("pipeline", st);
    if (dry_run) {
        for (int i = 0; i < r->n_steps; i++) print_argv(r->steps[i].argv);
        shr_recipe_free(r);
        return CLI_OK;
    }
    json_t *state = NULL;
    if (make_dirs(r->workdir) != 0) {
        fprintf(stderr, "shrink pipeline: error: cannot create work folder '%s'\n", r->workdir);
        rc = CLI_FAIL;
    } else if ((st = from_scratch ? shr_state_load("", &state) : shr_state_load(r->state_path, &state)) != SHR_OK) {
        rc = cli_fail("pipeline", st);
    }
    int ran[SHR_RECIPE_MAX_STEPS] = {0};
    double secs[SHR_RECIPE_MAX_STEPS] = {0};
    for (int i = 0; rc == CLI_OK && i < r->n_steps; i++) rc = run_step(r, i, state, &ran[i], &secs[i]);
    if (rc == CLI_OK) rc = !json && has_command("compare") ? run_compare(r) : print_table(r, ran, secs, json);
    json_decref(state);
    shr_recipe_free(r);
    return rc;
}
