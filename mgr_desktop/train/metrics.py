"""Per-track and per-window metrics from window log-probabilities."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def evaluation_from_window_logp(
    per_track: Sequence[np.ndarray], targets: Sequence[int], labels: Sequence[str]
) -> Evaluation:
    """Each track's window log-probabilities -> per-track (the inference rule) and per-window
    predictions, and the mean window cross-entropy. No tracks: an empty evaluation (every
    score 0.0, as Evaluation gives for an empty set)."""
    import torch

    from mgr_desktop.models.aggregate import track_log_probs

    if len(per_track) != len(targets):
        raise ValueError(f"{len(per_track)} tracks but {len(targets)} targets")
    t_true = np.asarray(targets, dtype=np.int64)
    t_pred = np.array(
        [int(track_log_probs(torch.from_numpy(np.asarray(w))).argmax()) for w in per_track],
        dtype=np.int64,
    )
    w_true = np.concatenate(
        [np.full(len(w), t, dtype=np.int64) for w, t in zip(per_track, targets, strict=True)]
        or [np.zeros(0, np.int64)]
    )
    w_logp = np.concatenate(per_track) if per_track else np.zeros((0, len(labels)))
    loss = float(-w_logp[np.arange(len(w_true)), w_true].mean()) if len(w_true) else 0.0
    w_pred = w_logp.argmax(1) if len(w_logp) else np.zeros(0, np.int64)
    return Evaluation(list(labels), t_true, t_pred, w_true, w_pred, loss)


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

    def confusion(self) -> np.ndarray:
        """Track counts, (genres, genres): rows the true genre, columns the predicted one."""
        k = len(self.labels)
        m = np.zeros((k, k), dtype=np.int64)
        np.add.at(m, (self.track_true, self.track_pred), 1)
        return m

    def report(self) -> dict[str, object]:  # counted by hand: sklearn agrees (tested)
        """Scores of the tracks' verdicts, per genre and overall. Precision, recall and F1 are
        0.0 where undefined (a genre never predicted, or absent from the set). `macro_f1` is
        the mean F1 over the genres present in the true labels (listed in `macro_f1_genres`):
        a genre the set lacks has no F1 to average (0.0 when the set is empty)."""
        m = self.confusion()
        hits, support, called = np.diag(m), m.sum(1), m.sum(0)
        p = _ratio(hits, called)
        r = _ratio(hits, support)
        f = _ratio(2 * hits, support + called)  # = 2PR / (P + R)
        present = support > 0
        return {
            "track_accuracy": self.track_accuracy,
            "segment_accuracy": self.segment_accuracy,
            "macro_f1": float(f[present].mean()) if present.any() else 0.0,
            "macro_f1_genres": [lab for lab, x in zip(self.labels, present, strict=True) if x],
            "loss": self.loss,
            "per_class": {
                lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                      "support": int(support[i])}
                for i, lab in enumerate(self.labels)
            },
            "confusion": m.tolist(),
            "labels": list(self.labels),
            "tracks": len(self.track_true),
            "windows": len(self.window_true),
        }  # fmt: skip


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, with 0.0 where den is 0 (sklearn's zero_division=0)."""
    out = np.zeros(len(num), dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out
