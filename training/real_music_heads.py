"""Genre heads on cached musicnn embeddings of GTZAN and real music, and how they are measured.

Shared by training/select_real_music.py (the choices, by cross-validation over artists) and
training/train_default_model.py (the shipped model). No file here is written by the app.

A track's target is a *set* of right answers: AllMusic tags are per artist or album and its
pop/rock holds pop, rock and metal, so "pop|rock|metal" means any of the three is right; a
track wholly outside GTZAN's ten has the set {other}. The heads are linear softmax models
trained on the set-valued likelihood, -log sum_{k in right} p_k (plain cross-entropy when the
set has one member), by L-BFGS on standardised features with an L2 penalty (convex: nothing
to schedule).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass

import numpy as np

from mgr_desktop.train.set_valued import (  # noqa: F401 (re-exported for the scripts)
    fit_linear,
    fit_temperature,
    logits_of,
    set_nll,
    softmax,
)

GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae",
          "rock")  # fmt: skip
OTHER = "other"
LABELS = (*GENRES, OTHER)
SILENCE_DBFS = -60.0
CONFIDENT = 0.6  # what --write-tags writes by default, and the "confident"


@dataclass
class Corpus:
    """Every track of the embedding file: per-track lists of segment arrays, and its rows."""

    rows: list[dict[str, str]]
    embeddings: list[np.ndarray]  # (segments, dim) per track copy
    tag_logits: list[np.ndarray]
    track: np.ndarray  # copy -> row index
    version: np.ndarray  # copy -> "original" | "augmented"

    def right(self, partial_other: bool = False) -> np.ndarray:
        """(rows, labels) bool: which answers are right for each track. `partial_other`: a
        track tagged both inside and outside GTZAN's ten ("pop/rock; electronic") may also be
        called "other"."""
        out = np.zeros((len(self.rows), len(LABELS)), bool)
        for i, r in enumerate(self.rows):
            names = [g for g in r["labels"].split("|") if g] or [OTHER]
            out[i, [LABELS.index(g) for g in names]] = True
            if partial_other and r["taxonomy"] == "partial":
                out[i, -1] = True
        return out

    def taxonomy(self) -> np.ndarray:
        return np.array([r["taxonomy"] for r in self.rows])

    def groups(self) -> np.ndarray:
        """Artist for real music; GTZAN tracks by their fault-filtered subset (artist-disjoint)."""
        return np.array([r["artist"] or f"gtzan:{r['subset']}" for r in self.rows])


def load(*paths: str) -> Corpus:
    rows: list[dict[str, str]] = []
    embs, tags, track, version = [], [], [], []
    for p in paths:
        z = np.load(p)
        rows_p = json.loads(str(z["rows"]))
        if rows and rows_p != rows:
            raise ValueError(f"{p}: a different track list")
        rows = rows_p
        cuts = np.cumsum(z["counts"])[:-1]
        keep = [lv > SILENCE_DBFS for lv in np.split(z["levels"], cuts)]
        for e, t, k in zip(np.split(z["embeddings"], cuts), np.split(z["tag_logits"], cuts), keep,
                           strict=True):  # fmt: skip
            k = k if k.any() else np.ones_like(k)
            embs.append(e[k])
            tags.append(t[k])
        track += list(z["track"])
        version += list(z["version"])
    return Corpus(rows, embs, tags, np.array(track), np.array(version))


def track_stats(segments: list[np.ndarray]) -> np.ndarray:
    """[mean, spread] of each track's segment embeddings: what MusicnnGenre's track head reads."""
    return np.stack([np.concatenate([e.mean(0), e.std(0)]) for e in segments]).astype(np.float32)


@dataclass(frozen=True)
class Decision:
    """How probabilities over LABELS become what the app says."""

    outside_at: float = 0.5  # p(other) at or above this: none of its genres

    def verdicts(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(genre index or -1 for outside, its probability, closest genre index)."""
        closest = p[:, : len(GENRES)].argmax(1)
        conf = p[np.arange(len(p)), closest]
        outside = (p[:, -1] >= self.outside_at) | (p.argmax(1) == len(GENRES))
        return np.where(outside, -1, closest), conf, closest


def real_music_report(
    p: np.ndarray, right: np.ndarray, decision: Decision, taxonomy: np.ndarray
) -> dict[str, float]:
    """The issue's measures on real music: songs wholly inside GTZAN's ten ("yes"), songs
    tagged inside and outside ("partial"), both together ("in_"), and songs outside ("no").
    `right` says which answers are right; "other" is never right for a song with a GTZAN genre
    here, whatever the training allowed."""
    right = right.copy()
    right[taxonomy != "no", -1] = False
    out = _report(p, right, decision, taxonomy != "no")
    for tax in ("yes", "partial"):
        sub = _report(p, right, decision, taxonomy == tax)
        out.update({f"{tax}_{k[3:]}": v for k, v in sub.items() if k.startswith("in_")})
    return out


def _report(
    p: np.ndarray, right: np.ndarray, decision: Decision, inside: np.ndarray
) -> dict[str, float]:
    genre, conf, closest = decision.verdicts(p)
    hit = np.zeros(len(p), bool)
    ok = genre >= 0
    hit[ok] = right[np.flatnonzero(ok), genre[ok]]
    confident = ok & (conf >= CONFIDENT)
    closest_hit = right[np.arange(len(p)), closest]
    return {
        "in_taxonomy_songs": int(inside.sum()),
        "in_accuracy": float(hit[inside].mean()),
        "in_closest_accuracy": float(closest_hit[inside].mean()),
        "in_confident_right": float((confident & hit)[inside].mean()),
        "in_confident_wrong": float((confident & ~hit)[inside].mean()),
        "in_said_outside": float((~ok)[inside].mean()),
        "outside_songs": int((~inside).sum()),
        "outside_confident_genre": float(confident[~inside].mean()) if (~inside).any() else 0.0,
        "outside_recognised": float((~ok)[~inside].mean()) if (~inside).any() else 0.0,
        "ece": ece(p, right),
    }


def ece(p: np.ndarray, right: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of the top answer (over all labels, 'other' included)."""
    top = p.argmax(1)
    conf = p.max(1)
    hit = right[np.arange(len(p)), top]
    edges = np.linspace(0, 1, bins + 1)
    out = 0.0
    for lo, hi in itertools.pairwise(edges):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            out += m.mean() * abs(hit[m].mean() - conf[m].mean())
    return float(out)


def artist_folds(groups: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Fold index per track, whole artists to one fold, folds of about equal size."""
    rng = np.random.default_rng(seed)
    names, sizes = np.unique(groups, return_counts=True)
    order = rng.permutation(len(names))
    order = order[np.argsort(-sizes[order], kind="stable")]  # big artists first, ties shuffled
    load_ = np.zeros(k)
    fold_of: dict[str, int] = {}
    for i in order:
        f = int(np.argmin(load_))
        fold_of[names[i]] = f
        load_[f] += sizes[i]
    return np.array([fold_of[g] for g in groups])
