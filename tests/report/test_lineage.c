/* Lineage: SHA-256 against the FIPS test vectors, the model hash equals the
 * saved file's, steps with source hashes, and the short chain. */
#include <string.h>

#include "report/sha256.h"
#include "report_test_util.h"
#include "shrink/io.h"
#include "shrink/report.h"

static void hash_of(const char *msg, size_t n, int repeat, char hex[65]) {
    shr_sha256 c;
    shr_sha256_init(&c);
    for (int r = 0; r < repeat; r++) shr_sha256_update(&c, msg, n);
    shr_sha256_hex(&c, hex);
}

static void test_sha256_vectors(void) {
    char hex[65];
    hash_of("", 0, 1, hex);
    CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
    hash_of("abc", 3, 1, hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    const char *m56 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"; /* padding spills a block */
    hash_of(m56, strlen(m56), 1, hex);
    CHECK(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0);
    hash_of("aaaaaaaaaa", 10, 100000, hex); /* one million 'a', fed in odd pieces */
    CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
}

static void test_model_hash_is_file_hash(void) {
    tiny_model t;
    shr_graph *g = tiny_build(&t, 1);
    if (!g) return;
    CHECK_OK(shr_graph_add_lineage(g, "train arch=tiny epochs=1"));
    char a[65], b[65], c[65], path[512];
    CHECK_OK(shr_model_sha256(g, a));
    snprintf(path, sizeof path, "%s/test_lineage_model.shrk", test_tmpdir());
    CHECK_OK(shr_model_save(g, path));
    CHECK_OK(shr_file_sha256(path, b));
    CHECK(strcmp(a, b) == 0);
    shr_f32(g->values[t.fc_w].data)[5] += 1; /* any change of a weight changes the hash */
    CHECK_OK(shr_model_sha256(g, c));
    CHECK(strcmp(a, c) != 0);
    remove(path);
    CHECK_STATUS(shr_file_sha256(path, b), SHR_ERR_IO);
    shr_graph_free(g);
}

static void test_steps(void) {
    tiny_model t;
    shr_graph *g = tiny_build(&t, 1);
    if (!g) return;
    char hex[65];
    CHECK_OK(shr_model_sha256(g, hex));
    CHECK_OK(shr_lineage_add_step(g, "train arch=cnn data=fashion-mnist epochs=3 seed=1", NULL));
    CHECK_OK(shr_lineage_add_step(g, "prune method=channel amount=0.5", hex));
    char want[128];
    snprintf(want, sizeof want, "prune method=channel amount=0.5 source=sha256:%.16s\n", hex);
    CHECK(g->lineage && strstr(g->lineage, want));
    CHECK_STATUS(shr_lineage_add_step(g, "two\nlines", NULL), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_lineage_add_step(g, "", hex), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_lineage_add_step(g, "quantize", "XYZ"), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_graph_add_lineage(g, "a\rb"), SHR_ERR_INVALID_ARG);
    CHECK_STATUS(shr_graph_add_lineage(g, ""), SHR_ERR_INVALID_ARG);
    /* Refused steps left the record as it was: two lines. */
    int lines = 0;
    for (const char *p = g->lineage; p && *p; p++) lines += *p == '\n';
    CHECK(lines == 2);
    shr_graph_free(g);
}

static void check_summary(const char *lineage, const char *want) {
    char *s = NULL;
    CHECK_OK(shr_lineage_summary(lineage, &s));
    CHECK_MSG(s && strcmp(s, want) == 0, "got '%s', want '%s'", s ? s : "(null)", want);
    free(s);
}

static void test_chain_summary(void) {
    check_summary("train arch=cnn data=fashion-mnist epochs=10 seed=1\n"
                  "prune method=channel amount=0.5 source=sha256:0123456789abcdef\n"
                  "quantize mode=int8 calib=static observer=entropy per_channel=1 source=sha256:0123456789abcdef\n",
                  "cnn \xe2\x86\x92 prune channel 0.5 \xe2\x86\x92 quantize int8 static entropy");
    check_summary("train arch=nets/my_net.txt epochs=1\n", "my_net");
    check_summary("train epochs=1", "train");
    check_summary("distill teacher=cnn student=cnn-tiny\n\n", "distill cnn cnn-tiny");
    check_summary("distill teacher=runs/cnn.shrk student=nets/tiny.txt T=4 alpha=0.9 data=x epochs=5",
                  "distill cnn tiny 4"); /* paths as base names */
    check_summary(NULL, "unknown");
    check_summary("", "unknown");
}

int main(void) {
    if (!tiny_ops_linked()) return 1;
    RUN(test_sha256_vectors);
    RUN(test_model_hash_is_file_hash);
    RUN(test_steps);
    RUN(test_chain_summary);
    return test_summary();
}
