/* Shared helpers for the `shrink` subcommands: option parsing, error
 * reporting with exit codes, JSON output, progress display. */
#ifndef SHR_CLI_H
#define SHR_CLI_H

#include <jansson.h>
#include <stdint.h>

#include "shrink/shrink.h"

/* Exit codes. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

typedef enum cli_opt_kind { OPT_FLAG, OPT_INT, OPT_I64, OPT_FLOAT, OPT_STR } cli_opt_kind;

typedef struct cli_opt {
    const char *name;  /* "--epochs" (or "-o") */
    cli_opt_kind kind;
    void *dst;         /* int*, int64_t*, double*, const char** */
    double lo, hi;     /* accepted numeric range */
} cli_opt;

/* Parses argv[0..argc) (argv[0] is the first argument after the command name).
 * Positional arguments go to pos (at most max_pos). Prints one error line and
 * returns CLI_USAGE on any problem, else CLI_OK. */
int cli_parse(const char *cmd, int argc, char **argv, const cli_opt *opts, int n_opts, const char **pos, int max_pos,
              int *n_pos);

/* Prints "shrink CMD: error: <shr_last_error()>" to stderr and returns CLI_FAIL. */
int cli_fail(const char *cmd, shr_status st);
/* Prints a usage error and returns CLI_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...);

/* Prints one JSON object on stdout and frees it; CLI_FAIL (with a message) if it
 * could not be built or written. */
int cli_print_json(const char *cmd, json_t *obj);
/* Parses "1,64" into up to max positive integers. Returns count, or -1. */
int cli_parse_int_list(const char *s, int *out, int max);

/* Training progress on stderr: a live bar on a TTY, one line per epoch otherwise. */
void cli_progress(const shr_train_progress *p, void *user);

/* Size of a file in bytes, or -1. */
int64_t cli_file_size(const char *path);
/* Peak resident set size of this process in bytes. */
int64_t cli_peak_rss(void);

/* Loads the dataset split and checks it fits the model's input. */
int cli_load_data_for_model(const char *cmd, const char *spec, shr_split split, int64_t limit, const shr_graph *g,
                            shr_dataset **out);

/* Loads a model by extension: .onnx through the ONNX importer (default options), anything
 * else as .shrk. cli_model_open returns the status; cli_load_model prints the error. */
shr_status cli_model_open(const char *path, shr_graph **out);
int cli_load_model(const char *cmd, const char *path, shr_graph **out);
/* --normalize MEAN,STD: one value each or ':'-separated per channel ("0.5,0.25" or
 * "0.485:0.456:0.406,0.229:0.224:0.225"); sets p's mean, std and channels. */
int cli_parse_normalize(const char *cmd, const char *spec, shr_preproc *p);

/* The training options `train` and `distill` share (cli_opt destinations). */
typedef struct cli_train_opts {
    const char *optimizer, *schedule;
    int epochs, batch, warmup, crop_pad, hflip, nesterov;
    int64_t seed;
    double lr, momentum, weight_decay, clip_norm, min_lr; /* lr 0 / momentum, weight_decay < 0: defaults */
} cli_train_opts;
/* shr_train_default() with o applied (optimizer and schedule parsed, progress on the
 * terminal); CLI_USAGE with a message for an unknown optimizer or schedule. */
int cli_train_configure(const char *cmd, const cli_train_opts *o, shr_train_config *cfg);
/* An arch file's text (at most 1 MiB, no NUL bytes), or NULL after printing why. */
char *cli_read_arch_file(const char *cmd, const char *path);
/* Whether name is one of shr_zoo_names(). */
int cli_is_zoo_name(const char *name);

/* Subcommands. argv[0] is the first argument after the command name. */
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_sensitivity(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_distill(int argc, char **argv);
int cmd_pipeline(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_quantize(int argc, char **argv);

#endif
