"""Multi-label heads on sentence embeddings: fitting, per-tag thresholds, metrics and the ONNX export.

One class-balanced logistic regression per tag on frozen embeddings (the "feature extraction" regime), so a
probability of 0.5 is the decision boundary whatever the tag's frequency, and the head written as a two-node
ONNX graph (Gemm, Sigmoid) that onnxruntime serves in the tagging function. Per-tag thresholds fitted on
out-of-fold scores were tried and lost to 0.5 on the ad copy (micro F1 0.52 vs 0.70, one split): with a
handful of positives per tag and fold, the fitted cut-offs are noise. Shared by the model build (the served
head) and the evaluation (the regime comparison), so both fit exactly the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Inverse L2 strength of every head, chosen on the training folds of the ad-copy set (C in {0.3 .. 30}).
HEAD_C = 10.0
MIN_POSITIVES = 2  # a tag with fewer positive examples gets no head: it is never predicted
DECISION_THRESHOLD = 0.5  # balanced heads: the cut-off every trained regime uses


@dataclass(frozen=True)
class LinearHeads:
    weights: np.ndarray  # (tags, dim)
    bias: np.ndarray  # (tags,)

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        logits = embeddings @ self.weights.T + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -40.0, 40.0)))


def fit_binary_head(
    embeddings: np.ndarray, labels: np.ndarray, weights: np.ndarray, *, c: float = 1.0, seed: int = 0
) -> LinearHeads:
    """One class-balanced logistic regression with per-example weights (the spam head)."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, class_weight="balanced", max_iter=3000, random_state=seed)
    model.fit(embeddings, labels, sample_weight=weights)
    return LinearHeads(model.coef_.astype(np.float64), model.intercept_.astype(np.float64))


def fit_heads(embeddings: np.ndarray, labels: np.ndarray, *, c: float = HEAD_C, seed: int = 0) -> LinearHeads:
    """One balanced, L2-regularised logistic regression per tag column of `labels` (n, tags) in {0, 1}.

    A tag with too few positives gets a head that always says no (weight 0, bias -40)."""
    from sklearn.linear_model import LogisticRegression

    dim, tags = embeddings.shape[1], labels.shape[1]
    weights, bias = np.zeros((tags, dim)), np.full(tags, -40.0)
    for tag in range(tags):
        positives = int(labels[:, tag].sum())
        if positives < MIN_POSITIVES or positives == len(labels):
            continue
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000, random_state=seed)
        model.fit(embeddings, labels[:, tag])
        weights[tag], bias[tag] = model.coef_[0], model.intercept_[0]
    return LinearHeads(weights, bias)


def fit_thresholds(scores: np.ndarray, labels: np.ndarray, *, fallback: float = 0.5) -> np.ndarray:
    """Per tag, the score cut-off with the best F1 on (scores, labels); `fallback` for tags with no
    positive example there (nothing to fit on). For scores that are not probabilities: zero-shot cosines."""
    thresholds = np.full(labels.shape[1], fallback)
    for tag in range(labels.shape[1]):
        truth = labels[:, tag].astype(bool)
        if not truth.any():
            continue
        candidates = np.unique(scores[truth, tag])
        best_f1 = -1.0
        for cut in candidates:
            predicted = scores[:, tag] >= cut
            true_positives = np.sum(predicted & truth)
            f1 = 2 * true_positives / (predicted.sum() + truth.sum())
            if f1 > best_f1:
                best_f1, thresholds[tag] = f1, cut
    return thresholds


def multilabel_metrics(labels: np.ndarray, scores: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Micro and macro F1 of the predictions and mean average precision of the scores. Macro F1 and mAP
    average over the tags that have a positive example in `labels` (others have no defined recall)."""
    truth = labels.astype(bool)
    predicted = predicted.astype(bool)
    present = truth.any(axis=0)
    true_positives = (predicted & truth).sum(axis=0)
    per_tag_f1 = 2 * true_positives / np.maximum(predicted.sum(axis=0) + truth.sum(axis=0), 1)
    micro = 2 * true_positives.sum() / max(predicted.sum() + truth.sum(), 1)
    return {
        "micro_f1": round(float(micro), 4),
        "macro_f1": round(float(per_tag_f1[present].mean()), 4) if present.any() else 0.0,
        "map": round(
            float(np.mean([average_precision(truth[:, t], scores[:, t]) for t in np.flatnonzero(present)])), 4
        )
        if present.any()
        else 0.0,
    }


def average_precision(truth: np.ndarray, scores: np.ndarray) -> float:
    """Area under the precision-recall curve as a step function (scikit-learn's definition)."""
    order = np.argsort(-scores, kind="stable")
    truth, scores = truth[order], scores[order]
    distinct = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]  # last index of each score value
    true_positives = np.cumsum(truth)[distinct]
    precision = true_positives / (distinct + 1)
    recall = true_positives / max(truth.sum(), 1)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def export_onnx(heads: LinearHeads, path: Path, *, input_name: str = "embeddings") -> None:
    """Gemm + Sigmoid: probabilities (n, tags) from embeddings (n, dim), float32."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    tags, dim = heads.weights.shape
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", [input_name, "weights", "bias"], ["logits"], transB=1),
            helper.make_node("Sigmoid", ["logits"], ["probabilities"]),
        ],
        "tag_heads",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["n", dim])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["n", tags])],
        initializer=[
            numpy_helper.from_array(heads.weights.astype(np.float32), "weights"),
            numpy_helper.from_array(heads.bias.astype(np.float32), "bias"),
        ],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="creative-engine"
    )
    model.ir_version = 9
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
