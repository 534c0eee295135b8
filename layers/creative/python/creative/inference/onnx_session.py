"""onnxruntime session settings shared by the models served here."""

from __future__ import annotations

from pathlib import Path

import onnxruntime


def cpu_session(model_path: Path, *, threads: int = 1) -> onnxruntime.InferenceSession:
    """One intra-op thread by default: a Lambda below 1,769 MB has one vCPU, and locally every function shares
    the machine. Callers that own a whole machine (benchmarks, batch jobs) pass more."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return onnxruntime.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
