"""Per-track and per-window metrics from window log-probabilities."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Evaluation:
    labels: list[str]
    track_true: np.ndarray  # (tracks,)
    track_pred: np.ndarray
    window_true: np.ndarray  # (windows,)
    window_pred: np.ndarray
    loss: float  # mean cross-entropy over windows

    @property
    def track_accuracy(self) -> float:
        return float((self.track_true == self.track_pred).mean()) if len(self.track_true) else 0.0

    @property
    def segment_accuracy(self) -> float:
        return (
            float((self.window_true == self.window_pred).mean()) if len(self.window_true) else 0.0
        )

    def report(self) -> dict[str, object]:
        from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

        k = range(len(self.labels))
        p, r, f, s = precision_recall_fscore_support(
            self.track_true, self.track_pred, labels=list(k), zero_division=0
        )
        return {
            "track_accuracy": self.track_accuracy,
            "segment_accuracy": self.segment_accuracy,
            "macro_f1": float(np.mean(f)),
            "loss": self.loss,
            "per_class": {
                lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                      "support": int(s[i])}
                for i, lab in enumerate(self.labels)
            },
            "confusion": confusion_matrix(self.track_true, self.track_pred,
                                          labels=list(k)).tolist(),
            "labels": list(self.labels),
            "tracks": len(self.track_true),
            "windows": len(self.window_true),
        }  # fmt: skip
