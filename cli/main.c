/* The `shrink` command: dispatches to one file per subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    const char *help;
} command;

static const command commands[] = {
    {"train", cmd_train, "train a zoo or arch-file model on a dataset",
     "usage: shrink train (--arch ARCH | --arch-file NET.txt) --data DATA -o OUT.shrk [options]\n"
     "\n"
     "  --arch ARCH            mlp | mlp-small | lenet5 | cnn | cnn-tiny | resnet8 | dwnet\n"
     "  --arch-file FILE       a network in the text spec of docs/arch-file.md\n"
     "  --data DATA            fashion-mnist | a folder of IDX files | a CSV file (label,features...)\n"
     "  -o, --output FILE      where to save the model (written atomically)\n"
     "  --epochs N             default 10\n"
     "  --batch B              default 64\n"
     "  --optimizer NAME       sgd | adam | adamw (default adam)\n"
     "  --lr X                 default 0.001 (adam/adamw), 0.1 (sgd)\n"
     "  --momentum X           sgd momentum (default 0.9)   --nesterov\n"
     "  --weight-decay X       L2 (sgd, adam) or decoupled (adamw; default 0.01)\n"
     "  --l1 X                 L1 regularization strength\n"
     "  --clip-norm X          clip the global gradient norm\n"
     "  --schedule NAME        cosine | step | none (default cosine)\n"
     "  --warmup N             linear warm-up epochs\n"
     "  --step-epochs N        step schedule: decay every N epochs (default a third of --epochs)\n"
     "  --gamma X              step schedule: decay factor (default 0.1)\n"
     "  --min-lr X             cosine schedule: final learning rate (default 0)\n"
     "  --label-smoothing X    cross-entropy label smoothing\n"
     "  --crop-pad N           random-crop augmentation with N pixels of padding\n"
     "  --hflip                random horizontal flips\n"
     "  --val-split F          hold out this fraction of the training set for validation\n"
     "  --train-limit N        use the first N training samples\n"
     "  --test-limit N         evaluate on the first N test samples\n"
     "  --seed S               default 1; same seed and --threads give the same model bit for bit\n"
     "  --threads T            default: all cores\n"
     "  --json                 print one JSON object (accuracy, loss, params, file_bytes, ...)\n"},
    {"eval", cmd_eval, "accuracy and loss of a model on a test set",
     "usage: shrink eval MODEL.shrk --data DATA [--test-limit N] [--batch B] [--threads T] [--json]\n"
     "\n"
     "Evaluates on the test split with the preprocessing stored in the model.\n"
     "JSON keys: accuracy (0..1), loss, samples, seconds.\n"},
    {"inspect", cmd_inspect, "layers, parameters, FLOPs and lineage of a model file",
     "usage: shrink inspect MODEL.shrk [--json]\n"
     "\n"
     "JSON keys: params, nonzero_params, file_bytes, flops (per sample, multiply-add = 2),\n"
     "layers (name, op, shape, params, nonzero, dtype, flops), preprocess, lineage.\n"},
    {"bench", cmd_bench, "inference latency and throughput",
     "usage: shrink bench MODEL.shrk [--batch 1,64] [--threads T] [--seconds S] [--clock wall|cpu] [--json]\n"
     "\n"
     "Warms up, then times rounds of runs until the median moves by less than 1% (or its 95%\n"
     "confidence interval is within 2%) and at least S seconds (default 1) of runs passed per\n"
     "batch size. --clock cpu (with --threads 1): runs timed by the thread's CPU clock, leaving\n"
     "out time other jobs held the core. JSON: results[] with batch, latency_ms_p50/p90/p99,\n"
     "samples_per_s; clock; peak_rss_bytes.\n"},
    {"import", cmd_import, "read an ONNX model into a .shrk file",
     "usage: shrink import MODEL.onnx -o OUT.shrk [--normalize MEAN,STD] [--no-batch-dim] [--json]\n"
     "\n"
     "Converts the ONNX graph (opsets 1-17, external data next to the model) into a shrink model\n"
     "that evaluates, trains, prunes and quantizes like a zoo one. Any command also reads a .onnx\n"
     "file directly. An operator shrink cannot express is reported with its node and opset.\n"
     "\n"
     "  --normalize MEAN,STD   input normalization after scaling pixels to [0, 1] (the default\n"
     "                         is no normalization); per channel with ':', e.g.\n"
     "                         0.485:0.456:0.406,0.229:0.224:0.225\n"
     "  --no-batch-dim         the ONNX input has no batch dim: the whole input is one sample\n"
     "  --input-name NAME      the graph input to feed when there are several\n"
     "  --output-name NAME     the graph output to use when there are several\n"
     "  --json                 one JSON object: nodes, params, flops, input_shape, output_shape\n"},
    {"export", cmd_export, "write a model as ONNX (with a test vector for other runtimes)",
     "usage: shrink export MODEL --format onnx -o OUT.onnx [--test-data DIR [--test-input X.pb]] [--json]\n"
     "\n"
     "Writes a float model, or a static int8 one as QDQ (QuantizeLinear/DequantizeLinear around\n"
     "float ops, per-channel int8 weights, int32 bias), as ONNX (opset 13, IR 7, dim 0 the symbolic\n"
     "batch) that onnx.checker accepts and ONNX Runtime runs. MODEL may be .shrk or .onnx.\n"
     "\n"
     "  --test-data DIR        also write DIR/input_0.pb and DIR/output_0.pb (ONNX tensors, as in\n"
     "                         ONNX's test data): an input and shrink's output for it\n"
     "  --test-input FILE      the input to use (an ONNX tensor file, N x the model's sample shape);\n"
     "                         default: --samples N (4) pixel-like samples from --seed S (1)\n"
     "  --json                 one JSON object: model, format, output_file, file_bytes, test_data\n"},
    {"quantize", cmd_quantize, "int8 / int16 / int4 quantization: static, dynamic, weight-only, QAT, sparse",
     "usage: shrink quantize MODEL.shrk --data DATA -o OUT.shrk [--mode static|dynamic|weight-only|qat|sparse]\n"
     "                       [--bits 8|16|4] [options] [--json]\n"
     "\n"
     "static: BatchNorm folded, conv/linear + ReLU fused, activation ranges calibrated on training\n"
     "samples; the model runs on integer kernels (docs/quant.md). dynamic: Linear weights int8,\n"
     "activations quantized per batch. weight-only: Linear weights int8 per channel or int4 per group.\n"
     "qat: fake-quant fine-tuning from the float model, then converted like static. sparse (pruned\n"
     "models): Linear weights keep only their non-zeros, as codes with gap-coded positions.\n"
     "\n"
     "  --per-channel | --per-tensor   weight scales (also --granularity channel|tensor; default channel)\n"
     "  --symmetric | --asymmetric     activation codes: i8 with zero point 0, or u8 (default)\n"
     "  --calib M              minmax | ema | percentile | entropy | mse (also --calibration; default minmax)\n"
     "  --percentile P         for --calib percentile (default 99.99)\n"
     "  --calib-samples N      training samples for calibration (default 1000)\n"
     "  --act-bits 7|8         activation codes of 8-bit mode: 7 (default) runs the faster integer path\n"
     "  --requant float|fixed  static / qat int8 layers: float32 multipliers as ONNX Runtime (default), or\n"
     "                         gemmlowp integer-only fixed point (for FPU-less targets)\n"
     "  --group-size G         weight-only int4: 32 | 64 | 128 (default 32); --zero-points, --gptq\n"
     "  --exclude L            keep layer L in f32 (repeatable, comma lists)\n"
     "  --keep-int16 L         run layer L at int16 (repeatable)\n"
     "  --auto --max-drop X    keep the most sensitive layers at int16 / f32 until the accuracy drop on\n"
     "                         held-out training samples is at most X points (default 0.2)\n"
     "  --weight-bits 4|8      static / qat: weight codes (4: -7..7, the fastest integer path)\n"
     "  --share-bits B         sparse: k-means weight sharing to 2^B - 1 values per layer (default: int8)\n"
     "  --huffman              sparse: Huffman-code the stored codes and gaps\n"
     "  --epochs N --lr X      sparse with --share-bits: fine-tune the shared values (zeros and clusters held)\n"
     "  --epochs N --lr X --batch B   qat fine-tuning (default 1 epoch, lr 1e-4, Adam)\n"
     "  --lsq                  qat: learned activation scales; --bn-freeze-epoch E: BatchNorm trains E\n"
     "                         epochs before it is folded; --teacher T.shrk: distill from T while training\n"
     "  --train-limit N --test-limit N --seed S --threads T\n"
     "  --json                 one JSON object: accuracy_before, accuracy_after, file_bytes, layers[]\n"
     "                         with bits, sqnr_db, scales and zero points\n"},
    {"compare", cmd_compare, "models side by side: size, FLOPs, accuracy, latency, memory; plots and HTML",
     "usage: shrink compare MODEL... --data DATA [--reference M] [--batch 1,64] [--markdown|--csv|--json]\n"
     "                      [--plot F.svg] [--html F.html] [--test-limit N] [--threads T] [--seconds S]\n"
     "                      [--sqnr-samples N] [--clock wall|cpu]\n"
     "\n"
     "Measures every model: file size and ratio to the reference (the first model, or --reference M),\n"
     "params, non-zeros, effective FLOPs (linear/conv scaled by weight density), weight bytes, activation\n"
     "arena, peak RSS (a fresh process per model), test accuracy and its change in points, and latency\n"
     "p50/p99 per --batch size with speedup and samples/s. Latency: warm-up, then rounds with the models\n"
     "interleaved until every median is stable and has S seconds (default 1) of runs; the spread of the\n"
     "round medians is reported as noise. Rows marked S / L are Pareto-optimal in accuracy vs file size /\n"
     "latency. --json prints an array, one object per model. --plot writes accuracy vs size and vs latency;\n"
     "--html one self-contained page with the table, the plots, lineage, per-layer sparsity and the\n"
     "SQNR quantize recorded per layer, and each model's logits SQNR and top-1 agreement against the\n"
     "reference on the first N test samples (--sqnr-samples, default 500; 0 skips). --clock cpu (with\n"
     "--threads 1) times each run by the thread's CPU clock: steadier on a machine shared with other jobs.\n"},
    {"prune", cmd_prune, "prune weights, units, channels or blocks; fine-tune with the masks held",
     "usage: shrink prune MODEL.shrk --method M --sparsity S --data DATA -o OUT.shrk [options]\n"
     "\n"
     "  --method M             magnitude | global | neuron | channel | layer | nm (see docs/prune.md)\n"
     "  --sparsity S           magnitude: fraction of each weight tensor zeroed; global: fraction of all\n"
     "                         params that are zero; neuron/channel: fraction of units/channels removed\n"
     "                         (the model is rebuilt smaller); layer: fraction of residual blocks removed;\n"
     "                         auto (magnitude): per-layer picks from a sensitivity analysis\n"
     "  --max-drop X           with --sparsity auto: accuracy budget before fine-tuning (default 0.01)\n"
     "  --nm N:M               nm: keep N of every M input weights (default 2:4)\n"
     "  --block RxC            magnitude/global: prune whole R-output x C-input blocks (8x1, 4x1: faster)\n"
     "  --importance I         neuron/channel: l1 | l2 | bn | taylor | connections (default l1, neuron l2)\n"
     "  --exclude LAYER[,..]   never prune these layers (repeatable)\n"
     "  --exclude-first / --exclude-last   leave the first / last linear or conv layer dense\n"
     "  --max-layer-sparsity X global: no layer beyond X\n"
     "  --schedule S           oneshot | iterative | gradual (default oneshot)\n"
     "  --epochs N             fine-tune epochs (also --finetune-epochs; default 0)\n"
     "  --cycles K             iterative: prune/fine-tune cycles (default 3)\n"
     "  --start-epoch E --end-epoch E --frequency F --initial-sparsity S   gradual (Zhu & Gupta)\n"
     "  --lr X --optimizer NAME --weight-decay X --batch B   fine-tuning (defaults as for train)\n"
     "  --teacher T.shrk|self  fine-tune with a teacher's soft targets (self: the model before pruning);\n"
     "                         --temperature T (4), --alpha A (0.9) as for distill\n"
     "  --data-batches N       taylor / layer importance: batches of training data (default 4)\n"
     "  --train-limit N --test-limit N --seed S --threads T\n"
     "  --json                 one JSON object: sparsity, params, nonzero_params, accuracy_before,\n"
     "                         accuracy_after, file_bytes, layers[] (per-layer sparsity)\n"},
    {"sensitivity", cmd_sensitivity, "accuracy per layer at each pruning sparsity (table, JSON, SVG)",
     "usage: shrink sensitivity MODEL.shrk --data DATA [--sparsities 0.3,...,0.95] [--plot F.svg]\n"
     "                          [--test-limit N] [--batch B] [--threads T] [--json]\n"
     "\n"
     "Magnitude-prunes one linear/conv layer at a time to each sparsity and evaluates on the test\n"
     "split. JSON: baseline_accuracy, sparsities[], layers[] with name, params, accuracy[], drop[].\n"},
    {"distill", cmd_distill, "train a small student from a teacher's soft targets (and feature hints)",
     "usage: shrink distill --teacher T.shrk (--arch ARCH | --arch-file F | --student S.shrk) --data DATA\n"
     "                      -o OUT.shrk [options]\n"
     "\n"
     "Loss: alpha*T^2*KL(softmax(z_t/T) || softmax(z_s/T)) + (1-alpha)*CE(z_s, y)\n"
     "      + beta * sum of hint MSEs. The teacher runs in eval mode; its logits are\n"
     "computed once over the training set when there is no augmentation. A new student\n"
     "starts from the same weights `shrink train --seed S` would (see docs/distill.md).\n"
     "\n"
     "  --teacher FILE         any .shrk model with the student's number of outputs\n"
     "  --arch ARCH            a zoo student: mlp-small, cnn-tiny, ... (see 'shrink help train')\n"
     "  --arch-file FILE       a student in the text spec of docs/arch-file.md\n"
     "  --student FILE         an existing model (e.g. a pruned one) to keep training\n"
     "  --temperature T        softmax temperature (default 2)\n"
     "  --alpha A              weight of the soft targets, 0..1 (default 0.5)\n"
     "  --feature T:S          FitNets hint from teacher layer T to student layer S through a\n"
     "                         learned 1x1 conv / linear adapter (repeatable; not saved)\n"
     "  --beta B               weight of each hint's MSE (default 1)\n"
     "  --adapter-lr X         Adam learning rate of the adapters (default 0.001)\n"
     "  --no-cache             run the teacher on every batch instead of caching its logits\n"
     "  --epochs N --batch B --optimizer NAME --lr X --momentum X --nesterov --weight-decay X\n"
     "  --clip-norm X --schedule NAME --warmup N --min-lr X --crop-pad N --hflip --val-split F\n"
     "  --train-limit N --test-limit N --seed S --threads T   as for 'shrink train'\n"
     "  --json                 one JSON object: accuracy, teacher_accuracy, params,\n"
     "                         teacher_params, file_bytes, accuracy_before (--student), ...\n"},
    {"pipeline", cmd_pipeline, "run a recipe of train/distill/prune/quantize/export steps, resumably",
     "usage: shrink pipeline RECIPE.json [--from-scratch] [--dry-run] [--json]\n"
     "\n"
     "Runs each step of the recipe as the matching shrink subcommand (its options are the\n"
     "subcommand's, see docs/pipeline.md and examples/recipe-*.json), saves each output in\n"
     "the recipe's workdir and records finished steps in workdir/pipeline-state.json. A\n"
     "re-run skips the steps whose options and input files are unchanged and resumes at\n"
     "the first one that is not done. Ends with 'shrink compare' over the outputs when\n"
     "this build has it, else a table of accuracy, params, non-zeros and file size.\n"
     "\n"
     "  --from-scratch         ignore the recorded state and run every step\n"
     "  --dry-run              print the command of every step and run nothing\n"
     "  --json                 one JSON object: workdir, state, steps[] with name, run,\n"
     "                         output, status (ran|skipped), seconds, accuracy, params,\n"
     "                         nonzero_params, file_bytes\n"},
};
#define N_COMMANDS ((int)(sizeof commands / sizeof commands[0]))

static void usage(FILE *f) {
    fprintf(f, "shrink %s — deep-learning model compression toolkit\n\nusage: shrink <command> [options]\n\n",
            SHRINK_VERSION);
    for (int i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "  %-10s %s\n\n'shrink help COMMAND' explains a command. Exit codes: 0 ok, 1 failure, 2 usage error.\n",
            "help", "show help for a command");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("shrink %s (%s kernels)\n", SHRINK_VERSION, shr_cpu_features());
        return CLI_OK;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(cmd, "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return CLI_OK;
        }
        for (int i = 0; i < N_COMMANDS; i++)
            if (strcmp(argv[2], commands[i].name) == 0) {
                fputs(commands[i].help, stdout);
                return CLI_OK;
            }
        fprintf(stderr, "shrink: unknown command '%s'\n", argv[2]);
        return CLI_USAGE;
    }
    for (int i = 0; i < N_COMMANDS; i++) {
        if (strcmp(cmd, commands[i].name) != 0) continue;
        for (int k = 2; k < argc; k++)
            if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
                fputs(commands[i].help, stdout);
                return CLI_OK;
            }
        return commands[i].run(argc - 2, argv + 2);
    }
    fprintf(stderr, "shrink: unknown command '%s' (see 'shrink --help')\n", cmd);
    return CLI_USAGE;
}
