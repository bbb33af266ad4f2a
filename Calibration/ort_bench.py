#!/usr/bin/env python3
"""Times ONNX Runtime (CPU, all cores) on a model with random inputs; prints the median ms last.

Used by `mixprec bench model` for its ratio line:
    ort_bench.py MODEL --shape x=1x3x48x192 [--runs 20]
"""
import argparse
import time

import numpy as np
import onnxruntime as ort

ort.set_default_logger_severity(3)  # errors only: the result is the last line

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("--shape", action="append", default=[])
ap.add_argument("--runs", type=int, default=20)
args = ap.parse_args()
opts = ort.SessionOptions()
opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
sess = ort.InferenceSession(args.model, opts, providers=["CPUExecutionProvider"])
shapes = dict((s.split("=")[0], [int(d) for d in s.split("=")[1].split("x")]) for s in args.shape)
rng = np.random.default_rng(0)
def feed(i):
    if "int64" in i.type:  # token ids below 100, masks all 1, token types 0 (as mixprec's random inputs)
        name = i.name.lower()
        if "mask" in name:
            return np.ones(shapes[i.name], dtype=np.int64)
        if "type" in name or "segment" in name:
            return np.zeros(shapes[i.name], dtype=np.int64)
        return rng.integers(0, 100, shapes[i.name]).astype(np.int64)
    return rng.uniform(-1, 1, shapes[i.name]).astype(np.float32)


feeds = {i.name: feed(i) for i in sess.get_inputs()}
sess.run(None, feeds)
times = []
for _ in range(args.runs):
    t0 = time.perf_counter()
    sess.run(None, feeds)
    times.append((time.perf_counter() - t0) * 1e3)
print(f"{sorted(times)[len(times) // 2]:.4f}")
