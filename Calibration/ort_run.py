#!/usr/bin/env python3
"""Runs a model in ONNX Runtime on an input folder and writes its first output as .npy.

Used by the tests to cross-check the QDQ export against mixprec's own mixed run:
    ort_run.py MODEL INPUT_DIR OUT.npy [--rows N]
"""
import argparse
import os

import numpy as np
import onnxruntime as ort

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("inputs")
ap.add_argument("out")
ap.add_argument("--rows", type=int, default=0)
args = ap.parse_args()
opts = ort.SessionOptions()
opts.intra_op_num_threads = 2
sess = ort.InferenceSession(args.model, opts, providers=["CPUExecutionProvider"])
feeds = {}
for i in sess.get_inputs():
    x = np.load(os.path.join(args.inputs, i.name + ".npy"))
    feeds[i.name] = x[: args.rows] if args.rows else x
np.save(args.out, sess.run(None, feeds)[0])
