"""ONNX graphs built in the tests, with weights large enough to matter."""

from __future__ import annotations

import numpy as np


def wide_network(rng: np.random.Generator):
    """64 inputs -> 6,000 hidden units -> 3 outputs: weights of 1.5 MB (float32) and 1.2 MB
    (float16, cast at load), a small bias, as onnx.save writes them."""
    from onnx import TensorProto, helper, numpy_helper

    w1 = rng.standard_normal((64, 6000)).astype(np.float32) * np.float32(0.1)
    w2 = (rng.standard_normal((6000, 100)) * 0.05).astype(np.float16)
    head = rng.standard_normal((100, 3)).astype(np.float32)
    bias = rng.standard_normal(3).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Cast", ["w2"], ["w2f"], to=TensorProto.FLOAT),
             helper.make_node("MatMul", ["r", "w2f"], ["z"]),
             helper.make_node("MatMul", ["z", "head"], ["zh"]),
             helper.make_node("Add", ["zh", "bias"], ["y"])]
    graph = helper.make_graph(
        nodes, "wide", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3])],
        [numpy_helper.from_array(a, n) for a, n in
         ((w1, "w1"), (w2, "w2"), (head, "head"), (bias, "bias"))])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
