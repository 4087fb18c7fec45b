#!/usr/bin/env python3
"""ONNX Runtime side of bench/peers/onnx_vs_ort.sh: latency of one model, timed like
`shrink bench` (warm-up, then runs until at least S seconds per batch size; median).
Usage: onnx_ort_bench.py MODEL.onnx --batch 1,64 --threads 1 --seconds 1
Prints one JSON object: ort version, results[] with batch, latency_ms_p50, runs."""
import argparse
import json
import statistics
import time

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--batch", default="1,64")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=1.0)
    args = ap.parse_args()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(args.model, opts, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    rng = np.random.default_rng(1)
    results = []
    for b in (int(v) for v in args.batch.split(",")):
        shape = [b] + [int(d) for d in inp.shape[1:]]
        x = rng.random(shape, dtype=np.float32)
        feed = {inp.name: x}
        for _ in range(3):
            sess.run(None, feed)
        times, start = [], time.perf_counter()
        while time.perf_counter() - start < args.seconds or len(times) < 5:
            t0 = time.perf_counter()
            sess.run(None, feed)
            times.append(1e3 * (time.perf_counter() - t0))
        results.append({"batch": b, "latency_ms_p50": statistics.median(times), "runs": len(times)})
    print(json.dumps({"engine": "onnxruntime", "version": ort.__version__, "threads": args.threads,
                      "results": results}))


if __name__ == "__main__":
    main()
