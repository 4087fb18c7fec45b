/* The model zoo. Shapes assume small images (e.g. 1x28x28) but every model
 * adapts to the given input shape and class count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/builder.h"
#include "shrink/zoo.h"

const char *shr_zoo_names(void) { return "mlp mlp-small lenet5 cnn cnn-tiny resnet8 dwnet"; }

/* LeNet-300-100: 784-300-100-10, 266,610 parameters on 28x28 inputs. */
static void build_mlp(shr_builder *b, int x, int classes) {
    x = shr_b_unary(b, "flatten", SHR_OP_FLATTEN, x, NULL);
    x = shr_b_linear(b, "fc1", x, 300, 1);
    x = shr_b_unary(b, "relu1", SHR_OP_RELU, x, NULL);
    x = shr_b_linear(b, "fc2", x, 100, 1);
    x = shr_b_unary(b, "relu2", SHR_OP_RELU, x, NULL);
    shr_b_linear(b, "fc3", x, classes, 1);
}

/* A small student: 784-64-10, 50,890 parameters on 28x28 inputs. */
static void build_mlp_small(shr_builder *b, int x, int classes) {
    x = shr_b_unary(b, "flatten", SHR_OP_FLATTEN, x, NULL);
    x = shr_b_linear(b, "fc1", x, 64, 1);
    x = shr_b_unary(b, "relu1", SHR_OP_RELU, x, NULL);
    shr_b_linear(b, "fc2", x, classes, 1);
}

/* LeNet-5 (conv 6@5x5 pad 2, pool, conv 16@5x5, pool, 120, 84, classes). */
static void build_lenet5(shr_builder *b, int x, int classes) {
    x = shr_b_conv(b, "conv1", x, 6, 5, 1, 2, 1, 1, 1);
    x = shr_b_unary(b, "relu1", SHR_OP_RELU, x, NULL);
    x = shr_b_pool(b, "pool1", SHR_OP_MAXPOOL2D, x, 2, 2, 0);
    x = shr_b_conv(b, "conv2", x, 16, 5, 1, 0, 1, 1, 1);
    x = shr_b_unary(b, "relu2", SHR_OP_RELU, x, NULL);
    x = shr_b_pool(b, "pool2", SHR_OP_MAXPOOL2D, x, 2, 2, 0);
    x = shr_b_unary(b, "flatten", SHR_OP_FLATTEN, x, NULL);
    x = shr_b_linear(b, "fc1", x, 120, 1);
    x = shr_b_unary(b, "relu3", SHR_OP_RELU, x, NULL);
    x = shr_b_linear(b, "fc2", x, 84, 1);
    x = shr_b_unary(b, "relu4", SHR_OP_RELU, x, NULL);
    shr_b_linear(b, "fc3", x, classes, 1);
}

/* conv -> BN -> ReLU (-> 2x2 max pool); conv bias is redundant before BN. */
static int conv_bn_relu(shr_builder *b, const char *stem, int x, int oc, int pool) {
    char n1[64], n2[64], n3[64], n4[64];
    snprintf(n1, sizeof n1, "%s.conv", stem);
    snprintf(n2, sizeof n2, "%s.bn", stem);
    snprintf(n3, sizeof n3, "%s.relu", stem);
    snprintf(n4, sizeof n4, "%s.pool", stem);
    x = shr_b_conv(b, n1, x, oc, 3, 1, 1, 1, 1, 0);
    x = shr_b_batchnorm(b, n2, x);
    x = shr_b_unary(b, n3, SHR_OP_RELU, x, NULL);
    return pool ? shr_b_pool(b, n4, SHR_OP_MAXPOOL2D, x, 2, 2, 0) : x;
}

/* Three 3x3 conv blocks with BN and 2x2 max pooling (32, 64, 128 channels), linear:
 * 104,426 params on 28x28. Flattening the 3x3 map instead of global average
 * pooling keeps the spatial layout (+2 pt on Fashion-MNIST after 5 epochs). */
static void cnn_of_width(shr_builder *b, int x, int classes, int width) {
    x = conv_bn_relu(b, "block1", x, width, 1);
    x = conv_bn_relu(b, "block2", x, 2 * width, 1);
    x = conv_bn_relu(b, "block3", x, 4 * width, 1);
    x = shr_b_unary(b, "flatten", SHR_OP_FLATTEN, x, NULL);
    shr_b_linear(b, "fc", x, classes, 1);
}
static void build_cnn(shr_builder *b, int x, int classes) { cnn_of_width(b, x, classes, 32); }

/* A distillation student: cnn with a quarter of the channels (8, 16, 32), 8,834
 * params on 28x28 (8.5 % of cnn). Same block names as cnn, so feature hints pair
 * block by block (--feature block2.relu:block2.relu). */
static void build_cnn_tiny(shr_builder *b, int x, int classes) { cnn_of_width(b, x, classes, 8); }

/* A basic residual block: conv-BN-ReLU-conv-BN (+ 1x1 projection when the shape changes), add, ReLU. */
static int res_block(shr_builder *b, const char *stem, int x, int oc, int stride) {
    char n[8][64];
    const char *suffix[8] = {"conv1", "bn1", "relu1", "conv2", "bn2", "proj", "proj_bn", "add"};
    for (int i = 0; i < 8; i++) snprintf(n[i], sizeof n[i], "%s.%s", stem, suffix[i]);
    int y = shr_b_conv(b, n[0], x, oc, 3, stride, 1, 1, 1, 0);
    y = shr_b_batchnorm(b, n[1], y);
    y = shr_b_unary(b, n[2], SHR_OP_RELU, y, NULL);
    y = shr_b_conv(b, n[3], y, oc, 3, 1, 1, 1, 1, 0);
    y = shr_b_batchnorm(b, n[4], y);
    int shortcut = x;
    if (stride != 1 || shr_b_channels(b, x) != oc) {
        shortcut = shr_b_conv(b, n[5], x, oc, 1, stride, 0, 1, 1, 0);
        shortcut = shr_b_batchnorm(b, n[6], shortcut);
    }
    y = shr_b_add(b, n[7], y, shortcut);
    char r[64];
    snprintf(r, sizeof r, "%s.out", stem);
    return shr_b_unary(b, r, SHR_OP_RELU, y, NULL);
}

/* ResNet-8: stem + three residual stages (16, 32, 64 channels) + GAP + linear. */
static void build_resnet8(shr_builder *b, int x, int classes) {
    x = conv_bn_relu(b, "stem", x, 16, 0);
    x = res_block(b, "stage1", x, 16, 1);
    x = res_block(b, "stage2", x, 32, 2);
    x = res_block(b, "stage3", x, 64, 2);
    x = shr_b_unary(b, "gap", SHR_OP_GLOBAL_AVGPOOL, x, NULL);
    x = shr_b_unary(b, "flatten", SHR_OP_FLATTEN, x, NULL);
    shr_b_linear(b, "fc", x, classes, 1);
}

/* Depthwise-separable block: dw 3x3 -> BN -> ReLU6 -> pw 1x1 -> BN -> ReLU6. */
static int dw_block(shr_builder *b, const char *stem, int x, int oc, int stride) {
    char n[6][64];
    const char *suffix[6] = {"dw", "dw_bn", "dw_relu6", "pw", "pw_bn", "pw_relu6"};
    for (int i = 0; i < 6; i++) snprintf(n[i], sizeof n[i], "%s.%s", stem, suffix[i]);
    int c = (int)shr_b_channels(b, x);
    x = shr_b_conv(b, n[0], x, c, 3, stride, 1, 1, c, 0);
    x = shr_b_batchnorm(b, n[1], x);
    x = shr_b_unary(b, n[2], SHR_OP_RELU6, x, NULL);
    x = shr_b_conv(b, n[3], x, oc, 1, 1, 0, 1, 1, 0);
    x = shr_b_batchnorm(b, n[4], x);
    return shr_b_unary(b, n[5], SHR_OP_RELU6, x, NULL);
}

/* MobileNet-style: stem conv + four depthwise-separable blocks + GAP + linear. */
static void build_dwnet(shr_builder *b, int x, int classes) {
    char n[3][32] = {"stem.conv", "stem.bn", "stem.relu6"};
    x = shr_b_conv(b, n[0], x, 32, 3, 1, 1, 1, 1, 0);
    x = shr_b_batchnorm(b, n[1], x);
    x = shr_b_unary(b, n[2], SHR_OP_RELU6, x, NULL);
    x = dw_block(b, "block1", x, 64, 2);
    x = dw_block(b, "block2", x, 64, 1);
    x = dw_block(b, "block3", x, 128, 2);
    x = dw_block(b, "block4", x, 128, 1);
    x = shr_b_unary(b, "gap", SHR_OP_GLOBAL_AVGPOOL, x, NULL);
    x = shr_b_unary(b, "flatten", SHR_OP_FLATTEN, x, NULL);
    shr_b_linear(b, "fc", x, classes, 1);
}

shr_status shr_zoo_build(const char *arch, int in_c, int in_h, int in_w, int n_classes, uint64_t seed,
                         shr_graph **out) {
    static const struct {
        const char *name;
        void (*build)(shr_builder *, int, int);
    } zoo[] = {{"mlp", build_mlp},         {"mlp-small", build_mlp_small}, {"lenet5", build_lenet5},
               {"cnn", build_cnn},         {"cnn-tiny", build_cnn_tiny},   {"resnet8", build_resnet8},
               {"dwnet", build_dwnet}};
    if (in_c < 1 || in_h < 1 || in_w < 1 || n_classes < 2)
        return shr_fail(SHR_ERR_INVALID_ARG, "invalid input shape %dx%dx%d or class count %d", in_c, in_h, in_w,
                        n_classes);
    for (size_t i = 0; i < sizeof zoo / sizeof zoo[0]; i++) {
        if (strcmp(arch, zoo[i].name) != 0) continue;
        shr_builder b;
        SHR_TRY(shr_builder_init(&b, in_c, in_h, in_w, seed));
        zoo[i].build(&b, b.g->input, n_classes);
        SHR_TRY(shr_builder_finish(&b, out));
        if (!((*out)->arch = strdup(arch))) {
            shr_graph_free(*out);
            *out = NULL;
            return shr_fail(SHR_ERR_NOMEM, "out of memory");
        }
        return SHR_OK;
    }
    return shr_fail(SHR_ERR_INVALID_ARG, "unknown architecture '%s' (choose one of: %s, or use --arch-file)", arch,
                    shr_zoo_names());
}
