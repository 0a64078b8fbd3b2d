"""Second round of model selection: segment-level vs track-level probes, both directions.

    python training/select_transfer_swap.py /tmp/emb.npz

The fault-filtered train and valid subsets share no artist, so fitting on one and scoring on
the other, both ways, gives two artist-honest estimates (the second trains on only 105
tracks). Columns: accuracy and accuracy on the four fully covered genres for train->valid and
valid->train, then the four-genre accuracy pooled over both directions (the selection score).
"seg": logistic regression on segment embeddings, verdict by mean segment log-probability;
"trk-mean": on the track's mean segment embedding (the probe of issue 10); "trk-meanstd": on
its mean and standard deviation (what the shipped model's track head uses).
"""

import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

FULL = ("blues", "classical", "jazz", "pop")
WIDTHS = [("msd", "mean", 753), ("msd", "max", 753), ("msd", "pen", 200),
          ("mtt", "mean", 753), ("mtt", "max", 753), ("mtt", "pen", 200)]  # fmt: skip


def columns(backbones: tuple[str, ...], layers: tuple[str, ...]) -> np.ndarray:
    """Column indices of the chosen backbones' layers in transfer_embeddings.py's output."""
    cols, start = [], 0
    for b, layer, w in WIDTHS:
        if b in backbones and layer in layers:
            cols.append(np.arange(start, start + w))
        start += w
    return np.concatenate(cols)


d = np.load(sys.argv[1])
emb, counts, genres, subsets = d["embeddings"], d["counts"], d["genres"], d["subsets"]
labels = sorted(set(genres))
y = np.array([labels.index(g) for g in genres])
starts = np.concatenate([[0], np.cumsum(counts)])


def rows(idx):
    return np.concatenate([np.arange(starts[i], starts[i + 1]) for i in idx])


train = np.flatnonzero(subsets == "train")
valid = np.flatnonzero(subsets == "valid")


def seg_fit(x, tr, te, c):
    xr = x[rows(tr)]
    yr = np.concatenate([np.full(counts[i], y[i]) for i in tr])
    sc = StandardScaler().fit(xr)
    clf = LogisticRegression(C=c, max_iter=500, class_weight="balanced").fit(sc.transform(xr), yr)
    lp = clf.predict_log_proba(sc.transform(x[rows(te)]))
    out = []
    pos = 0
    for n in counts[te]:
        out.append(lp[pos : pos + n].mean(0))
        pos += n
    return np.array(out).argmax(1)


def trk(x, stats):
    out = []
    for i in range(len(counts)):
        s = x[starts[i] : starts[i + 1]]
        f = [s.mean(0)] + ([s.std(0)] if "std" in stats else [])
        out.append(np.concatenate(f))
    return np.array(out)


def trk_fit(t, tr, te, c):
    sc = StandardScaler().fit(t[tr])
    clf = LogisticRegression(C=c, max_iter=1000, class_weight="balanced").fit(
        sc.transform(t[tr]), y[tr]
    )
    return clf.predict(sc.transform(t[te]))


def score(pred, te):
    ok = pred == y[te]
    full = np.isin(genres[te], FULL)
    return ok.mean(), ok[full].mean()


print("config | train->valid acc full4 | valid->train acc full4 | pooled full4 (n)")
for bb in [("msd",), ("msd", "mtt")]:
    for layers in [("mean", "max", "pen"), ("pen",), ("mean", "pen")]:
        x = emb[:, columns(bb, layers)]
        for kind in ["seg", "trk-mean", "trk-meanstd"]:
            for c in [0.01, 0.1]:
                if kind == "seg":
                    p1 = seg_fit(x, train, valid, c)
                    p2 = seg_fit(x, valid, train, c)
                else:
                    t = trk(x, kind)
                    p1 = trk_fit(t, train, valid, c)
                    p2 = trk_fit(t, valid, train, c)
                a1, f1 = score(p1, valid)
                a2, f2 = score(p2, train)
                allp = np.concatenate([p1 == y[valid], p2 == y[train]])
                allg = np.concatenate([genres[valid], genres[train]])
                pf = allp[np.isin(allg, FULL)].mean()
                print(
                    f"{'+'.join(bb)} {'+'.join(layers)} {kind} C={c} | {a1:.3f} {f1:.3f} | "
                    f"{a2:.3f} {f2:.3f} | {pf:.3f}",
                    flush=True,
                )
