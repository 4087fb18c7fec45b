/* Networks exported by PyTorch's torch.onnx.export (opset 13, dynamic batch):
 * an MLP, a CNN (BN folded by the exporter, ReLU6, depthwise conv, residual add, pools,
 * x.view(x.size(0), -1)) and a gated net (global pool, broadcast Mul, concat,
 * log-softmax) and a small ResNet whose BatchNormalization nodes stay in the
 * file. tests/onnx/pytorch_models.py writes them with an input batch
 * and PyTorch's outputs; shrink must import them, reproduce the outputs within
 * 1e-4, survive a .shrk round trip bit for bit, and fine-tune: every parameter
 * gets a gradient and a few Adam steps lower the loss.
 * Skips (exit 77) when /usr/bin/python3 has no torch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/tape.h"
#include "onnx/onnx_test_util.h"
#include "shrink/train.h"
#include "test.h"

static char dir[512];

static void check_model(const char *name) {
    char path[700];
    shr_graph *g = NULL;
    snprintf(path, sizeof path, "%s/%s.onnx", dir, name);
    CHECK_OK(shr_onnx_import(path, NULL, &g));
    if (!g) return;
    snprintf(path, sizeof path, "%s/%s/input_0.pb", dir, name);
    shr_tensor *x = read_pb_tensor(path);
    snprintf(path, sizeof path, "%s/%s/output_0.pb", dir, name);
    shr_tensor *want = read_pb_tensor(path);
    CHECK(x && want);
    if (x && want) {
        const int n = (int)x->shape[0];
        shr_status st;
        float *y = run_graph(g, shr_f32(x), n, &st);
        CHECK_OK(st);
        double worst = 0;
        if (y) CHECK_MSG(count_mismatch(y, shr_f32(want), want->numel, 1e-4, 1e-4, &worst) == 0, "%s: outputs differ from PyTorch by up to %g", name, worst);
        fprintf(stderr, "  %s: %d nodes, max |shrink - pytorch| = %.3g\n", name, g->n_nodes, worst);
        /* .shrk round trip: the same outputs bit for bit. */
        void *buf = NULL;
        size_t size = 0;
        shr_graph *g2 = NULL;
        CHECK_OK(shr_model_to_memory(g, &buf, &size));
        CHECK_OK(shr_model_from_memory(buf, size, &g2));
        float *y2 = g2 ? run_graph(g2, shr_f32(x), n, &st) : NULL;
        CHECK(y && y2 && memcmp(y, y2, want->numel * sizeof(float)) == 0);
        free(buf);
        free(y2);
        shr_graph_free(g2);
        free(y);
    }
    shr_tensor_free(x);
    shr_tensor_free(want);
    shr_graph_free(g);
}

static void test_outputs_match_pytorch(void) {
    check_model("mlp");
    check_model("cnn");
    check_model("residual");
    check_model("resnet");
}

/* Fine-tuning an imported model: gradients reach every parameter and Adam on a
 * fixed batch lowers the cross-entropy. */
static void check_finetune(const char *name) {
    char path[700];
    shr_graph *g = NULL;
    snprintf(path, sizeof path, "%s/%s.onnx", dir, name);
    CHECK_OK(shr_onnx_import(path, NULL, &g));
    if (!g) return;
    enum { N = 8, K = 10 };
    float x[N * 784];
    int32_t labels[N];
    shr_rng r;
    shr_rng_seed(&r, 3);
    for (int i = 0; i < N * 784; i++) x[i] = shr_rng_uniform(&r);
    for (int i = 0; i < N; i++) labels[i] = i % K;
    shr_tape *t = NULL;
    shr_optim *o = NULL;
    shr_optim_config oc = shr_optim_default(SHR_OPTIM_ADAM);
    CHECK_OK(shr_tape_create(g, N, &t));
    CHECK_OK(shr_optim_create(g, &oc, &o));
    float first = 0, loss = 0, grad[N * K];
    for (int step = 0; t && o && step < 30; step++) {
        const shr_tensor *y;
        shr_tape_zero_grad(t);
        CHECK_OK(shr_tape_forward(t, x, N, 1, &r, &y));
        CHECK_OK(shr_loss_cross_entropy(shr_f32(y), labels, N, K, 0.0f, &loss, grad));
        CHECK_OK(shr_tape_backward(t, grad));
        if (step == 0) {
            first = loss;
            int params = 0, with_grad = 0;
            for (int v = 0; v < g->n_values; v++) {
                if (g->values[v].kind != SHR_VALUE_PARAM) continue;
                params++;
                with_grad += shr_tensor_count_nonzero(t->param_grad[v]) > 0;
            }
            CHECK_MSG(params > 0 && with_grad == params, "%s: %d of %d parameters got a gradient", name, with_grad, params);
        }
        CHECK_OK(shr_optim_step(o, g, t->param_grad, 0.01f, NULL));
    }
    fprintf(stderr, "  %s fine-tune: loss %.4f -> %.4f\n", name, (double)first, (double)loss);
    CHECK_MSG(loss < 0.5f * first, "%s: loss %g did not drop from %g", name, (double)loss, (double)first);
    shr_optim_free(o);
    shr_tape_free(t);
    shr_graph_free(g);
}

static void test_finetune(void) {
    check_finetune("cnn");
    check_finetune("residual");
    check_finetune("resnet");
}

int main(void) {
    const char *src = getenv("SHR_SOURCE_DIR"), *tmp = getenv("SHR_TMPDIR");
    char script[600], cmd[1400];
    snprintf(script, sizeof script, "%s/tests/onnx/pytorch_models.py", src ? src : ".");
    snprintf(dir, sizeof dir, "%s/onnx_pytorch.XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' >&2", script, dir);
    int rc = system(cmd);
    int code = rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    if (code == 77) {
        fprintf(stderr, "SKIP: PyTorch is not available to /usr/bin/python3\n");
        return 77;
    }
    if (code != 0) {
        fprintf(stderr, "exporting the PyTorch models failed (exit %d)\n", code);
        return 1;
    }
    RUN(test_outputs_match_pytorch);
    RUN(test_finetune);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_summary();
}
