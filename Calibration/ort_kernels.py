#!/usr/bin/env python3
"""Times ONNX Runtime's CPU kernels on the shapes `mixprec bench kernels` measures.

Reads a JSON list of cases on stdin and prints one JSON object per case and thread count:
  {"kernel": "int8_gemm", "m": 512, "n": 512, "k": 512}      -> MatMulInteger, u8 x s8 constant weights
  {"kernel": "fp32_gemm", "m": ..., "n": ..., "k": ...}      -> MatMul with constant weights
  {"kernel": "int8_conv", "name": ..., "cin", "cout", "group", "h", "w", "kh", "kw",
   "sh", "sw", "dh", "dw", "pt", "pl", "pb", "pr"}           -> QLinearConv, per-channel int8 weights
  {"kernel": "fp32_conv", the same fields}                  -> Conv with constant FP32 weights and bias
Usage: ort_kernels.py --threads 1,2 --min-seconds 0.3 < cases.json
"""
import argparse
import json
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ap = argparse.ArgumentParser()
ap.add_argument("--threads", default="1,2")
ap.add_argument("--min-seconds", type=float, default=0.3)
args = ap.parse_args()
rng = np.random.default_rng(0)


def conv_macs(c):
    oh = (c["h"] + c["pt"] + c["pb"] - c["dh"] * (c["kh"] - 1) - 1) // c["sh"] + 1
    ow = (c["w"] + c["pl"] + c["pr"] - c["dw"] * (c["kw"] - 1) - 1) // c["sw"] + 1
    return c["cout"] * oh * ow * (c["cin"] // c["group"]) * c["kh"] * c["kw"]


def model_for(case):
    init, inputs, feeds = [], [], {}
    kind = case["kernel"]
    if kind in ("int8_gemm", "fp32_gemm"):
        m, n, k = case["m"], case["n"], case["k"]
        if kind == "int8_gemm":
            inputs.append(helper.make_tensor_value_info("a", TensorProto.UINT8, [m, k]))
            feeds["a"] = rng.integers(0, 256, (m, k), dtype=np.uint8)
            init += [numpy_helper.from_array(rng.integers(-127, 128, (k, n), dtype=np.int8), "b"),
                     numpy_helper.from_array(np.array(128, dtype=np.uint8), "az"),
                     numpy_helper.from_array(np.array(0, dtype=np.int8), "bz")]
            node = helper.make_node("MatMulInteger", ["a", "b", "az", "bz"], ["y"])
            out = helper.make_tensor_value_info("y", TensorProto.INT32, [m, n])
        else:
            inputs.append(helper.make_tensor_value_info("a", TensorProto.FLOAT, [m, k]))
            feeds["a"] = rng.standard_normal((m, k), dtype=np.float32)
            init.append(numpy_helper.from_array(rng.standard_normal((k, n), dtype=np.float32), "b"))
            node = helper.make_node("MatMul", ["a", "b"], ["y"])
            out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])
        macs = m * n * k
    elif kind == "fp32_conv":
        c = case
        cin, cout, g = c["cin"], c["cout"], c["group"]
        inputs.append(helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, c["h"], c["w"]]))
        feeds["x"] = rng.standard_normal((1, cin, c["h"], c["w"]), dtype=np.float32)
        init += [numpy_helper.from_array(rng.standard_normal((cout, cin // g, c["kh"], c["kw"]), dtype=np.float32), "w"),
                 numpy_helper.from_array(rng.standard_normal(cout, dtype=np.float32), "bias")]
        node = helper.make_node("Conv", ["x", "w", "bias"], ["y"],
                                group=g, kernel_shape=[c["kh"], c["kw"]], strides=[c["sh"], c["sw"]],
                                dilations=[c["dh"], c["dw"]], pads=[c["pt"], c["pl"], c["pb"], c["pr"]])
        out = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
        macs = conv_macs(c)
    else:
        c = case
        cin, cout, g = c["cin"], c["cout"], c["group"]
        inputs.append(helper.make_tensor_value_info("x", TensorProto.UINT8, [1, cin, c["h"], c["w"]]))
        feeds["x"] = rng.integers(0, 256, (1, cin, c["h"], c["w"]), dtype=np.uint8)
        w = rng.integers(-127, 128, (cout, cin // g, c["kh"], c["kw"]), dtype=np.int8)
        init += [numpy_helper.from_array(np.array(0.02, dtype=np.float32), "xs"),
                 numpy_helper.from_array(np.array(128, dtype=np.uint8), "xz"),
                 numpy_helper.from_array(w, "w"),
                 numpy_helper.from_array(rng.uniform(0.001, 0.01, cout).astype(np.float32), "ws"),
                 numpy_helper.from_array(np.zeros(cout, dtype=np.int8), "wz"),
                 numpy_helper.from_array(np.array(0.05, dtype=np.float32), "ys"),
                 numpy_helper.from_array(np.array(128, dtype=np.uint8), "yz"),
                 numpy_helper.from_array(rng.integers(-1000, 1000, cout).astype(np.int32), "bias")]
        node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "bias"], ["y"],
                                group=g, kernel_shape=[c["kh"], c["kw"]], strides=[c["sh"], c["sw"]],
                                dilations=[c["dh"], c["dw"]], pads=[c["pt"], c["pl"], c["pb"], c["pr"]])
        out = helper.make_tensor_value_info("y", TensorProto.UINT8, None)
        macs = conv_macs(c)
    graph = helper.make_graph([node], "k", inputs, [out], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString(), feeds, macs


def median_seconds(sess, feeds):
    sess.run(None, feeds)
    times, total = [], 0.0
    while total < args.min_seconds or len(times) < 5:
        t0 = time.perf_counter()
        sess.run(None, feeds)
        dt = time.perf_counter() - t0
        times.append(dt)
        total += dt
        if len(times) >= 2000:
            break
    return sorted(times)[len(times) // 2]


cases = json.load(sys.stdin)
for threads in [int(t) for t in args.threads.split(",")]:
    for case in cases:
        blob, feeds, macs = model_for(case)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(blob, opts, providers=["CPUExecutionProvider"])
        s = median_seconds(sess, feeds)
        row = dict(case)
        row.update({"threads": threads, "ms": round(s * 1e3, 5), "gops": round(2 * macs / s / 1e9, 2)})
        print(json.dumps(row), flush=True)
