"""Per-track and per-window metrics from window log-probabilities."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def evaluation_from_window_logp(
    per_track: Sequence[np.ndarray], targets: Sequence[int], labels: Sequence[str]
) -> Evaluation:
    """Each track's window log-probabilities -> per-track (the inference rule) and per-window
    predictions, and the mean window cross-entropy."""
    import torch

    from mgr_desktop.models.aggregate import track_log_probs

    t_true = np.asarray(targets, dtype=np.int64)
    t_pred = np.array(
        [int(track_log_probs(torch.from_numpy(np.asarray(w))).argmax()) for w in per_track],
        dtype=np.int64,
    )
    w_true = np.concatenate([np.full(len(w), t) for w, t in zip(per_track, targets, strict=True)])
    w_logp = np.concatenate(per_track) if per_track else np.zeros((0, len(labels)))
    loss = float(-w_logp[np.arange(len(w_true)), w_true].mean()) if len(w_true) else 0.0
    return Evaluation(list(labels), t_true, t_pred, w_true, w_logp.argmax(1), loss)


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
