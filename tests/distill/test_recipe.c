/* Pipeline recipes: argv construction (references, defaults, data, sorted
 * options, flags, repeats, numbers), every validation error, step hashes that
 * follow options and input bytes, and the state file's done/not-done logic. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/pipeline.h"
#include "shrink/shrink.h"
#include "test.h"

static char *joined(const shr_recipe_step *s) {
    static char buf[2048];
    buf[0] = '\0';
    for (int i = 0; i < s->argc; i++) {
        strcat(buf, i ? " " : "");
        strcat(buf, s->argv[i]);
    }
    CHECK(s->argv[s->argc] == NULL);
    return buf;
}

static const char *GOOD =
    "{\"workdir\": \"wd/\", \"data\": \"fashion-mnist\", \"defaults\": {\"threads\": 2, \"seed\": 5},"
    " \"steps\": ["
    "  {\"name\": \"t\", \"run\": \"train\", \"arch\": \"cnn\", \"epochs\": 5, \"seed\": 1},"
    "  {\"run\": \"distill\", \"teacher\": \"@t\", \"arch\": \"cnn-tiny\", \"alpha\": 0.9, \"hflip\": true,"
    "   \"no-cache\": false, \"feature\": [\"a:b\", \"c:d\"], \"temperature\": 4.0},"
    "  {\"name\": \"q\", \"run\": \"quantize\", \"input\": \"@2-distill\", \"mode\": \"static\"},"
    "  {\"name\": \"x\", \"run\": \"export\", \"input\": \"@q\", \"format\": \"onnx\", \"output\": \"m.onnx\"}],"
    " \"compare\": {\"test-limit\": 500, \"batch\": \"1,64\"}}";

static void test_argv(void) {
    shr_recipe *r = NULL;
    CHECK_OK(shr_recipe_parse(GOOD, &r));
    if (!r) return;
    CHECK(r->n_steps == 4);
    CHECK(strcmp(r->workdir, "wd") == 0 && strcmp(r->state_path, "wd/pipeline-state.json") == 0);
    /* Sorted options; the step's seed over the default; data added; output last. */
    CHECK(strcmp(joined(&r->steps[0]), "shrink train --arch cnn --epochs 5 --seed 1 --threads 2 --data fashion-mnist "
                                       "-o wd/t.shrk") == 0);
    CHECK(strcmp(r->steps[1].name, "2-distill") == 0);
    CHECK(strcmp(joined(&r->steps[1]),
                 "shrink distill --alpha 0.9 --arch cnn-tiny --feature a:b --feature c:d --hflip --seed 5 --teacher "
                 "wd/t.shrk --temperature 4 --threads 2 --data fashion-mnist -o wd/2-distill.shrk") == 0);
    CHECK(strcmp(joined(&r->steps[2]), "shrink quantize wd/2-distill.shrk --mode static --seed 5 --threads 2 --data "
                                       "fashion-mnist -o wd/q.shrk") == 0);
    /* export reads no data and gets no defaults. */
    CHECK(strcmp(joined(&r->steps[3]), "shrink export wd/q.shrk --format onnx -o wd/m.onnx") == 0);
    CHECK(r->compare_argc == 4 && strcmp(r->compare_argv[0], "--batch") == 0 && r->test_limit == 500);
    shr_recipe_free(r);
}

static void expect_error(const char *text, const char *needle) {
    shr_recipe *r = NULL;
    shr_status st = shr_recipe_parse(text, &r);
    CHECK_MSG(st != SHR_OK && r == NULL, "accepted: %s", text);
    CHECK_MSG(strstr(shr_last_error(), needle) != NULL, "error '%s' lacks '%s'", shr_last_error(), needle);
    shr_recipe_free(r);
}

#define HEAD "{\"workdir\": \"w\", \"data\": \"d\", \"steps\": ["

static void test_errors(void) {
    expect_error("{\"workdir\": ", "line 1");
    expect_error("[]", "JSON object");
    expect_error("{\"workdir\": \"w\", \"data\": \"d\", \"steps\": [], \"colour\": 1}", "colour");
    expect_error("{\"data\": \"d\", \"steps\": [{\"run\": \"train\"}]}", "workdir");
    expect_error(HEAD "]}", "1 to 64");
    expect_error(HEAD "{\"run\": \"bake\"}]}", "step 1");
    expect_error(HEAD "{\"run\": \"train\", \"name\": \"a b\"}]}", "name");
    expect_error(HEAD "{\"run\": \"train\", \"name\": \"a\"}, {\"run\": \"train\", \"name\": \"a\"}]}", "two steps");
    expect_error(HEAD "{\"run\": \"distill\", \"teacher\": \"@later\"}, {\"run\": \"train\", \"name\": \"later\"}]}",
                 "@later");
    expect_error(HEAD "{\"run\": \"prune\"}]}", "needs an \"input\"");
    expect_error(HEAD "{\"run\": \"train\", \"input\": \"m.shrk\"}]}", "takes no \"input\"");
    expect_error(HEAD "{\"run\": \"train\", \"output\": \"../x.shrk\"}]}", "file name");
    expect_error(HEAD "{\"run\": \"train\", \"name\": \"a\", \"output\": \"o\"}, {\"run\": \"train\", \"output\": \"o\"}]}",
                 "like step 'a'");
    expect_error(HEAD "{\"run\": \"train\", \"Epochs\": 3}]}", "Epochs");
    expect_error(HEAD "{\"run\": \"train\", \"arch\": {\"x\": 1}}]}", "'arch'");
    expect_error(HEAD "{\"run\": \"train\", \"feature\": [[1]]}]}", "'feature'");
    expect_error(HEAD "{\"run\": \"train\", \"a\": 1, \"a\": 2}]}", "duplicate");
    expect_error(HEAD "{\"run\": \"train\"}], \"compare\": {\"test-limit\": 0.5}}", "test-limit");
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* The hash follows the options and the bytes of input files; the state says
 * done only for the same hash and an unchanged output. */
static void test_hash_and_state(void) {
    const char *tmp = getenv("SHR_TMPDIR") ? getenv("SHR_TMPDIR") : "/tmp";
    char dir[512], text[2048], in[600], statep[600];
    snprintf(dir, sizeof dir, "%s/recipe_state_%d", tmp, (int)getpid());
    snprintf(in, sizeof in, "%s/net.txt", dir);
    snprintf(statep, sizeof statep, "%s/pipeline-state.json", dir);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    CHECK(system(cmd) == 0);
    write_file(in, "flatten\nlinear 3\n");
    const char *fmt = "{\"workdir\": \"%s\", \"data\": \"d\", \"steps\": [{\"name\": \"a\", \"run\": \"train\", "
                      "\"arch-file\": \"%s\", \"lr\": %s}]}";
    shr_recipe *r1 = NULL, *r2 = NULL;
    snprintf(text, sizeof text, fmt, dir, in, "0.01");
    CHECK_OK(shr_recipe_parse(text, &r1));
    snprintf(text, sizeof text, fmt, dir, in, "0.02");
    CHECK_OK(shr_recipe_parse(text, &r2));
    if (!r1 || !r2) goto done;
    char h1[17], h1b[17], h2[17], h3[17];
    CHECK_OK(shr_step_hash(&r1->steps[0], h1));
    CHECK_OK(shr_step_hash(&r1->steps[0], h1b));
    CHECK_OK(shr_step_hash(&r2->steps[0], h2));
    CHECK(strcmp(h1, h1b) == 0 && strcmp(h1, h2) != 0);
    write_file(in, "flatten\nlinear 4\nlinear 3\n"); /* same path, other bytes */
    CHECK_OK(shr_step_hash(&r1->steps[0], h3));
    CHECK(strcmp(h1, h3) != 0);

    json_t *st = NULL;
    CHECK_OK(shr_state_load(statep, &st)); /* none yet: empty */
    if (!st) goto done;
    CHECK(!shr_state_is_done(st, &r1->steps[0], h3));
    CHECK(shr_state_mark_done(st, &r1->steps[0], h3, 1.0) != SHR_OK); /* no output yet */
    write_file(r1->steps[0].output, "model bytes");
    CHECK_OK(shr_state_mark_done(st, &r1->steps[0], h3, 1.0));
    CHECK_OK(shr_state_save(statep, st));
    json_decref(st);
    st = NULL;
    CHECK_OK(shr_state_load(statep, &st));
    if (!st) goto done;
    CHECK(shr_state_is_done(st, &r1->steps[0], h3));
    CHECK(!shr_state_is_done(st, &r1->steps[0], h1)); /* options or inputs changed */
    write_file(r1->steps[0].output, "other bytes");  /* output edited by hand */
    CHECK(!shr_state_is_done(st, &r1->steps[0], h3));
    unlink(r1->steps[0].output);
    CHECK(!shr_state_is_done(st, &r1->steps[0], h3));
    json_decref(st);
    write_file(statep, "{\"steps\": 3}");
    CHECK_STATUS(shr_state_load(statep, &st), SHR_ERR_FORMAT);
    CHECK(strstr(shr_last_error(), "from-scratch") != NULL);
done:
    shr_recipe_free(r1);
    shr_recipe_free(r2);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

int main(void) {
    RUN(test_argv);
    RUN(test_errors);
    RUN(test_hash_and_state);
    return test_summary();
}
