/* Internal: compression pipelines. A recipe (JSON) lists steps — train,
 * distill, prune, quantize, export — each turned into the argv of the
 * matching `shrink` subcommand; a state file in the work folder records the
 * steps done, keyed by a hash of each step's argv and input files, so a re-run
 * resumes at the first step that is not done (or whose options or inputs
 * changed). The CLI (cli/cmd_pipeline.c) runs the argvs; nothing here prints.
 *
 * Recipe:
 *   {"workdir": "runs/demo",            work folder (created), holds outputs and state
 *    "data": "fashion-mnist",           --data of train/distill/prune/quantize steps
 *    "defaults": {"threads": 2},        options for those same steps (a step overrides)
 *    "steps": [{"name": "teacher", "run": "train", "arch": "cnn", "epochs": 5}, ...],
 *    "compare": {"test-limit": 2000}}   options of the final comparison
 * A step: "run" (required), "name" (default "<index>-<run>"), "input" (the
 * positional MODEL of prune/quantize/export), "output" (file name in workdir,
 * default "<name>.shrk"), and any option of the subcommand by its name without
 * "--": strings and numbers are values, true is a flag, false/null leave it
 * out, an array repeats the option. "@name" is the output of an earlier step. */
#ifndef SHR_PIPELINE_H
#define SHR_PIPELINE_H

#include <jansson.h>
#include "shrink/status.h"

#define SHR_RECIPE_MAX_STEPS 64
#define SHR_RECIPE_MAX_BYTES (1 << 20)

typedef struct shr_recipe_step {
    char *name;
    char *run;     /* the subcommand */
    char *output;  /* workdir/output */
    int argc;      /* argv[0] = "shrink", argv[1] = run, ..., "-o", output */
    char **argv;   /* NULL-terminated */
} shr_recipe_step;

typedef struct shr_recipe {
    char *workdir, *data, *state_path;
    int n_steps;
    shr_recipe_step *steps;
    int compare_argc;  /* options of the comparison ("--test-limit", "2000", ...) */
    char **compare_argv;
    long long test_limit; /* "test-limit" of compare, 0 if none */
} shr_recipe;

/* Parses and validates a recipe (text or file); every error names the step or key. */
shr_status shr_recipe_parse(const char *text, shr_recipe **out);
shr_status shr_recipe_load(const char *path, shr_recipe **out);
void shr_recipe_free(shr_recipe *r);

/* 16 hex digits of a hash over the step's argv and the content of every
 * argument that names a regular file (its inputs; the output excluded). */
shr_status shr_step_hash(const shr_recipe_step *s, char out[17]);
/* Hash of one file's content (16 hex digits). */
shr_status shr_file_hash(const char *path, char out[17]);

/* State file: {"version": 1, "steps": {NAME: {"hash", "output", "output_hash", "seconds"}}}.
 * A missing file is an empty state. */
shr_status shr_state_load(const char *path, json_t **out);
/* 1 when NAME is recorded with this hash and its output still has the recorded content. */
int shr_state_is_done(json_t *state, const shr_recipe_step *s, const char *hash);
shr_status shr_state_mark_done(json_t *state, const shr_recipe_step *s, const char *hash, double seconds);
/* Written atomically. */
shr_status shr_state_save(const char *path, json_t *state);

#endif
