"""lowbit.nn: real networks run layer by layer, with a hook at every GEMM.

`load_onnx` reads a model, `run` executes it with an optional `Hook` that sees each
compute layer's `LayerCall` (operands, GEMM form) and may replace them or the output,
`list_layers` walks the layers with their MACs; `lowbit.nn.fidelity` compares outputs
with the float run; `lowbit.nn.digits` and `lowbit.nn.ocr` are the real models with data.
Needs the ``onnx`` extra (``nn`` for the models).

>>> import lowbit.nn as nn
>>> sorted(nn.GEMM_OPS)
['Conv', 'Gemm', 'MatMul']
"""

from .fidelity import Batch, Task, logit_kl, top1_agreement
from .graph import GEMM_OPS, LAYER_OPS, Layer, Model, load_onnx
from .layercall import Hook, LayerCall
from .runtime import list_layers, run

__all__ = [
    "GEMM_OPS",
    "LAYER_OPS",
    "Batch",
    "Hook",
    "Layer",
    "LayerCall",
    "Model",
    "Task",
    "list_layers",
    "load_onnx",
    "logit_kl",
    "run",
    "top1_agreement",
]
