#!/usr/bin/env python3
"""ONNX Runtime's own static INT8 quantization of a model, for `mixprec bench model`:

    ort_quantize.py MODEL OUT.onnx --calib DIR [--method minmax|percentile|dynamic]

QDQ format, per-channel int8 weights, int8 activations (ONNX Runtime's defaults), calibrated on
DIR/<input name>.npy. `dynamic` is `quantize_dynamic` instead (per-channel int8 weights, uint8
activations whose range each run takes from its own values; no calibration). Prints OUT's path last.
"""
import argparse
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_dynamic, quantize_static

ort.set_default_logger_severity(3)  # errors only: the result is the last line
ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("out")
ap.add_argument("--calib", required=True)
ap.add_argument("--method", default="minmax", choices=["minmax", "percentile", "dynamic"])
args = ap.parse_args()

inputs = [i.name for i in onnx.load(args.model, load_external_data=False).graph.input]


class Folder(CalibrationDataReader):
    def __init__(self):
        arrays = {n: np.load(os.path.join(args.calib, n.replace("/", "_") + ".npy")) for n in inputs}
        count = min(a.shape[0] for a in arrays.values())
        self.feeds = iter([{n: a[i:i + 1] for n, a in arrays.items()} for i in range(count)])

    def get_next(self):
        return next(self.feeds, None)


if args.method == "dynamic":
    quantize_dynamic(args.model, args.out, per_channel=True, weight_type=QuantType.QInt8)
    print(args.out)
    raise SystemExit(0)
quantize_static(args.model, args.out, Folder(), quant_format=QuantFormat.QDQ, per_channel=True,
                calibrate_method=CalibrationMethod.MinMax if args.method == "minmax" else CalibrationMethod.Percentile)
print(args.out)
