#!/usr/bin/env python3
"""Runs a model (e.g. an exported mixed QDQ model) in ONNX Runtime on a labelled folder and prints
its task metric: top1 for labels.npy, greedy-CTC exact match and CER for labels.txt (spaces ignored) (the
dictionary is the `character` metadata of --dictionary-from, default the model itself).

    ort_eval.py MODEL DIR [--dictionary-from ORIGINAL.onnx]
"""
import argparse
import os

import numpy as np
import onnx
import onnxruntime as ort

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("inputs")
ap.add_argument("--dictionary-from", default=None)
args = ap.parse_args()
opts = ort.SessionOptions()
opts.intra_op_num_threads = 2
sess = ort.InferenceSession(args.model, opts, providers=["CPUExecutionProvider"])
feeds = {i.name: np.load(os.path.join(args.inputs, i.name + ".npy")) for i in sess.get_inputs()}
y = np.concatenate([sess.run(None, {k: v[s:s + 32] for k, v in feeds.items()})[0] for s in range(0, len(next(iter(feeds.values()))), 32)])
labels_npy, labels_txt = os.path.join(args.inputs, "labels.npy"), os.path.join(args.inputs, "labels.txt")
if os.path.exists(labels_npy):
    print("top1 %.4f on %d samples" % ((y.argmax(-1) == np.load(labels_npy)).mean(), len(y)))
elif os.path.exists(labels_txt):
    meta = {p.key: p.value for p in onnx.load(args.dictionary_from or args.model, load_external_data=False).metadata_props}
    symbols = ["<blank>"] + meta["character"].split("\n") + [" "]
    refs = open(labels_txt, encoding="utf-8").read().split("\n")[: len(y)]

    def decode(ids):
        out, prev = "", 0
        for i in ids:
            if i != prev and i != 0 and i < len(symbols):
                out += symbols[i]
            prev = i
        return out

    def edits(a, b):
        d = list(range(len(b) + 1))
        for i, ca in enumerate(a, 1):
            prev, d[0] = d[0], i
            for j, cb in enumerate(b, 1):
                prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (ca != cb))
        return d[len(b)]

    # Spaces ignored, as PaddleOCR's RecMetric does by default (ignore_space) and mixprec does.
    preds = [decode(r).replace(" ", "") for r in y.argmax(-1)]
    refs = [r.replace(" ", "") for r in refs]
    exact = np.mean([p == r for p, r in zip(preds, refs)])
    cer = sum(edits(p, r) for p, r in zip(preds, refs)) / max(1, sum(len(r) for r in refs))
    print("ctc exact-match %.4f, CER %.4f on %d samples" % (exact, cer, len(y)))
