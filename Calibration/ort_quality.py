#!/usr/bin/env python3
"""Quality of quantized exports next to ONNX Runtime's own static INT8, all scored by ONNX Runtime
on held-out data against the FP32 model's outputs (a benchmark, not part of the product):

    ort_quality.py MODEL --calib DIR --eval DIR --output NAME --kind embedding|mask [--ours NAME=QDQ.onnx ...]

ONNX Runtime's models are `quantize_static` QDQ, per-channel int8 weights, MinMax and Percentile
calibration on DIR (Calibration/ort_quantize.py), and with --dynamic also `quantize_dynamic`. Per model it prints the weight bytes (every
initializer at its stored width: int8 1 byte, int4 half, float32 4; the same rule for every model),
and for --kind embedding the mean cosine of each row of NAME to FP32's and Spearman's rho of the
pairwise cosine similarities of the rows, for --kind mask the mean IoU of NAME > 0.3 (the DB
threshold) with FP32's and the recall of the folder's text boxes (meta.json "boxes": a box counts
when at least half of it is inside the thresholded map).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

ort.set_default_logger_severity(3)
ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("--calib", required=True)
ap.add_argument("--eval", required=True)
ap.add_argument("--output", required=True)
ap.add_argument("--kind", required=True, choices=["embedding", "mask"])
ap.add_argument("--ours", action="append", default=[], help="NAME=QDQ.onnx, repeatable")
ap.add_argument("--dynamic", action="store_true", help="also ONNX Runtime's quantize_dynamic (per-channel int8 weights)")
args = ap.parse_args()

WIDTH = {onnx.TensorProto.INT8: 1, onnx.TensorProto.UINT8: 1, onnx.TensorProto.FLOAT: 4, onnx.TensorProto.INT32: 4,
         onnx.TensorProto.INT64: 8, onnx.TensorProto.FLOAT16: 2}
for name in ("INT4", "UINT4"):
    if hasattr(onnx.TensorProto, name):
        WIDTH[getattr(onnx.TensorProto, name)] = 0.5


def weight_bytes(path):
    """Bytes of every constant tensor with at least one dimension: initializers and Constant nodes."""
    g = onnx.load(path, load_external_data=False).graph
    tensors = list(g.initializer) + [a.t for n in g.node if n.op_type == "Constant" for a in n.attribute if a.name == "value"]
    return int(sum(np.prod(t.dims, dtype=np.int64) * WIDTH.get(t.data_type, 4) for t in tensors if len(t.dims) > 0))


def run(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    feeds = {n: np.load(os.path.join(args.eval, n + ".npy")) for n in names}
    count = len(next(iter(feeds.values())))
    parts = [sess.run([args.output], {n: a[s:s + 8] for n, a in feeds.items()})[0] for s in range(0, count, 8)]
    return np.concatenate(parts).astype(np.float64)


def ranks(v):
    r = np.empty(len(v))
    r[np.argsort(v, kind="stable")] = np.arange(len(v))
    return r


def score(y, ref):
    if args.kind == "embedding":
        a, b = ref.reshape(-1, ref.shape[-1]), y.reshape(-1, y.shape[-1])
        cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-30)
        na, nb = a / np.linalg.norm(a, axis=1, keepdims=True), b / np.linalg.norm(b, axis=1, keepdims=True)
        iu = np.triu_indices(len(a), 1)
        rho = np.corrcoef(ranks((na @ na.T)[iu]), ranks((nb @ nb.T)[iu]))[0, 1]
        return {"mean_cosine": float(cos.mean()), "min_cosine": float(cos.min()), "spearman_pairwise": float(rho)}
    m, r = y > 0.3, ref > 0.3
    iou = [(m[i] & r[i]).sum() / max((m[i] | r[i]).sum(), 1) for i in range(len(y))]
    boxes = json.load(open(os.path.join(args.eval, "meta.json"))).get("boxes", [])
    found = total = 0
    for i, page in enumerate(boxes[: len(y)]):
        plane = m[i].reshape(m[i].shape[-2:])
        for x0, y0, x1, y1 in page:
            total += 1
            found += plane[int(y0):int(y1), int(x0):int(x1)].mean() >= 0.5
    return {"mask_iou": float(np.mean(iou)), "box_recall": found / max(total, 1), "boxes": total}


reference = run(args.model)
rows = [("fp32", args.model)]
work = tempfile.mkdtemp(prefix="mixprec-ort-quality-")
here = os.path.dirname(os.path.abspath(__file__))
for method in ("minmax", "percentile") + (("dynamic",) if args.dynamic else ()):
    out = os.path.join(work, method + ".onnx")
    done = subprocess.run([sys.executable, os.path.join(here, "ort_quantize.py"), args.model, out, "--calib", args.calib, "--method", method],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        # quantize_dynamic targets MatMul models; say so and go on with the rest.
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        print(json.dumps({"model": os.path.basename(args.model), "plan": "ort int8 " + method, "error": last}))
        continue
    rows.append(("ort int8 " + method, out))
rows += [tuple(o.split("=", 1)) for o in args.ours]
fp32_bytes = weight_bytes(args.model)
for label, path in rows:
    figures = score(run(path), reference)
    size = weight_bytes(path)
    print(json.dumps({"model": os.path.basename(args.model), "plan": label, "weight_bytes": size,
                      "compression": round(fp32_bytes / size, 3), **figures}))
