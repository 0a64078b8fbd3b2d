"""Choose the backbone, layers and regularisation of the transfer model, honestly.

    python training/select_transfer.py /tmp/emb.npz

Reads `transfer_embeddings.py`'s output. Two protocols, neither touching the held-out test:
  * valid: fit on the fault-filtered train subset, score the valid subset (artist-disjoint);
  * kfold: 5 stratified folds over train+valid, each track tested once.
Scores: per-track accuracy on all tracks, on the four fully covered genres (blues, classical,
jazz, pop), and balanced accuracy (mean recall per genre: what a test with equal tracks per
genre, like GTZAN's, would give). A logistic-regression probe on segment embeddings, with the
app's track rule (mean of segment log-probabilities), as the product's probe trains.
"""

from __future__ import annotations

import argparse
import itertools
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

FULL = ("blues", "classical", "jazz", "pop")
# Column ranges of each (backbone, layer) in the embedding, as models.transfer lays them out.
WIDTHS = [("msd", "mean", 753), ("msd", "max", 753), ("msd", "pen", 200),
          ("mtt", "mean", 753), ("mtt", "max", 753), ("mtt", "pen", 200)]  # fmt: skip


def columns(backbones: tuple[str, ...], layers: tuple[str, ...]) -> np.ndarray:
    cols, start = [], 0
    for b, layer, w in WIDTHS:
        if b in backbones and layer in layers:
            cols.append(np.arange(start, start + w))
        start += w
    return np.concatenate(cols)


def track_predict(clf, scaler, x, counts) -> np.ndarray:
    logp = clf.predict_log_proba(scaler.transform(x))
    out, pos = [], 0
    for n in counts:
        out.append(logp[pos : pos + n].mean(0))
        pos += n
    return np.stack(out)


def fit_eval(x, counts, y, train, test, c, balanced) -> np.ndarray:
    starts = np.concatenate([[0], np.cumsum(counts)])
    rows = lambda idx: np.concatenate([np.arange(starts[i], starts[i + 1]) for i in idx])  # noqa: E731
    xr = x[rows(train)]
    yr = np.concatenate([np.full(counts[i], y[i]) for i in train])
    scaler = StandardScaler().fit(xr)
    clf = LogisticRegression(C=c, max_iter=300, class_weight="balanced" if balanced else None).fit(
        scaler.transform(xr), yr
    )
    return track_predict(clf, scaler, x[rows(test)], counts[test])


def scores(pred: np.ndarray, y: np.ndarray, genres: np.ndarray, labels: list[str]) -> dict:
    ok = pred == y
    full = np.isin(genres, FULL)
    recalls = [ok[y == k].mean() for k in np.unique(y)]
    return {"acc": ok.mean(), "full4": ok[full].mean(), "balanced": float(np.mean(recalls))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("npz")
    args = ap.parse_args()
    d = np.load(args.npz)
    emb, counts = d["embeddings"], d["counts"]
    genres, subsets = d["genres"], d["subsets"]
    labels = sorted(set(genres))
    y = np.array([labels.index(g) for g in genres])
    train = np.flatnonzero(subsets == "train")
    valid = np.flatnonzero(subsets == "valid")
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(np.zeros(len(y)), y))
    grid = itertools.product(
        [("msd",), ("mtt",), ("msd", "mtt")],
        [("pen",), ("mean",), ("mean", "max"), ("mean", "max", "pen")],
        [0.01, 0.1, 1.0],
        [True],
    )
    print("backbones layers C balanced | valid acc full4 bal | kfold acc full4 bal", flush=True)
    for bb, layers, c, bal in grid:
        x = emb[:, columns(bb, layers)]
        pv = fit_eval(x, counts, y, train, valid, c, bal).argmax(1)
        sv = scores(pv, y[valid], genres[valid], labels)
        pk = np.zeros(len(y), int)
        for tr, te in folds:
            pk[te] = fit_eval(x, counts, y, tr, te, c, bal).argmax(1)
        sk = scores(pk, y, genres, labels)
        print(
            f"{'+'.join(bb):8s} {'+'.join(layers):13s} {c:<5g} {bal!s:5s} | "
            f"{sv['acc']:.3f} {sv['full4']:.3f} {sv['balanced']:.3f} | "
            f"{sk['acc']:.3f} {sk['full4']:.3f} {sk['balanced']:.3f}",
            flush=True,
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
