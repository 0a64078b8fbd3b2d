"""`mgr-desktop evaluate`: the training run's test metrics, for an existing model."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from mgr_desktop.commands.common import (
    DEVICE_HELP,
    EXIT_OK,
    EXIT_USAGE,
    Command,
    add_verbose,
    fail_usage,
)
from mgr_desktop.safetext import printable

if TYPE_CHECKING:  # loaded when the command runs, not when the parser is built
    from mgr_desktop.inference.decode_pool import DecodePool
    from mgr_desktop.inference.results import FileFailure, TrackResult
    from mgr_desktop.train.metrics import Evaluation


def add_arguments(p: argparse.ArgumentParser) -> None:
    from mgr_desktop.train.splits import SPLITS

    p.add_argument("--model", required=True, metavar="FILE")
    p.add_argument("--data", required=True, metavar="ROOT")
    p.add_argument("--split", choices=(*SPLITS[:2], "all"), default="random")
    p.add_argument("--seed", type=int, default=0, help="seed of the random split")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    # Before evaluate ran the engine it read a feature cache; old scripts still pass this.
    p.add_argument("--cache", metavar="DIR", help=argparse.SUPPRESS)
    p.add_argument("--format", choices=("text", "json"), default="text")
    add_verbose(p)


def run(args: argparse.Namespace) -> int:
    from mgr_desktop.inference.decode_pool import DecodePool

    decoders = DecodePool.start()  # before torch is imported, as `classify` decodes
    try:
        return _evaluate(args, decoders)
    finally:
        if decoders is not None:
            decoders.close()


def _evaluate(args: argparse.Namespace, decoders: DecodePool | None) -> int:
    from mgr_desktop.commands.common import load_engine
    from mgr_desktop.inference.track_audio import SAMPLE_SEGMENTS
    from mgr_desktop.train.data import make_splits
    from mgr_desktop.train.dataset_tracks import DatasetError, discover

    if args.cache:
        print("mgr-desktop: note: evaluate no longer uses --cache (it classifies as classify "
              "does)", file=sys.stderr)  # fmt: skip
    # The engine `classify` runs, with its settings: what the app would say of each track.
    engine = load_engine(args.model, args.device, sample_segments=SAMPLE_SEGMENTS)
    if engine is None:
        return EXIT_USAGE
    try:
        dataset = discover(args.data)
        split = make_splits(dataset, "random" if args.split == "all" else args.split, args.seed)[0]
    except (DatasetError, ValueError) as e:
        return fail_usage(str(e))
    missing = [lab for lab in dataset.labels if lab not in engine.labels]
    if missing:
        return fail_usage(
            f"the model does not know genre(s) {', '.join(missing)} "
            f"(it knows {', '.join(engine.labels)})"
        )
    parts = ("train", "valid", "test") if args.split == "all" else ("test",)
    tracks = [t for part in parts for t in getattr(split, part)]
    if not tracks:  # the fault-filtered split of a folder without its test tracks
        return fail_usage(f"the {args.split} split's test subset is empty for this folder")
    results = list(engine.classify_files([t.path for t in tracks], decoders=decoders))
    # Indices into all the model's labels: an open-set model's "none of its genres" on a
    # track of one of its genres counts as wrong, as it would in the app.
    targets = [engine.all_labels.index(t.label) for t in tracks]
    ev, unscored = score_results(results, targets, engine.all_labels, engine.outside)
    for path, reason in unscored:
        print(f"mgr-desktop: not scored: {printable(path)}: {reason}", file=sys.stderr)
    report = ev.report()
    report["unscored"] = len(unscored)
    if not _all_finite(report):  # a model that overflows gets no verdict, and no exit 0
        return fail_usage(
            f"{engine.path}: the model produced invalid output (NaN or infinite scores)"
        )
    if args.format == "json":
        print(json.dumps(report, allow_nan=False))
        return EXIT_OK
    present = len(cast(list[str], report["macro_f1_genres"]))
    print(
        f"{report['tracks']} tracks ({args.split} split): track accuracy "
        f"{report['track_accuracy']:.3f}, window accuracy {report['segment_accuracy']:.3f}, "
        f"macro F1 {report['macro_f1']:.3f} (mean over the {present} genres present)"
    )
    print(f"{'genre':>12} precision recall   f1  tracks")
    per_class = cast(dict[str, dict[str, Any]], report["per_class"])
    for lab, m in per_class.items():
        if m["support"]:
            print(
                f"{printable(lab):>12}   {m['precision']:.3f}   {m['recall']:.3f}  {m['f1']:.3f}  "
                f"{m['support']:5d}"
            )
    sys.stdout.flush()
    return EXIT_OK


def score_results(
    results: Sequence[TrackResult | FileFailure], targets: Sequence[int], labels: Sequence[str],
    outside: str = "",
) -> tuple[Evaluation, list[tuple[str, str]]]:  # fmt: skip
    """The engine's results scored as the app shows them: each track's verdict (a genre, or
    `outside`), and each audible segment's (a segment under -60 dBFS has none and does not
    count). The loss is the mean -log probability of the true label over those segments.
    A file that failed, or had no audible segment, is not scored: (path, reason) each."""
    import numpy as np

    from mgr_desktop.inference.results import TrackResult
    from mgr_desktop.train.metrics import Evaluation

    index = {lab: i for i, lab in enumerate(labels)}
    genres = [lab for lab in labels if lab != outside]
    t_true, t_pred, w_true, w_pred, losses = [], [], [], [], []
    unscored: list[tuple[str, str]] = []
    for r, y in zip(results, targets, strict=True):
        if not isinstance(r, TrackResult):
            unscored.append((r.path, r.error))
            continue
        if r.genre is None and not r.outside:
            unscored.append((r.path, r.note or "no verdict"))
            continue
        t_true.append(y)
        t_pred.append(index[outside if r.outside else cast(str, r.genre)])
        for seg in r.segments:
            if seg.genre is None and not seg.outside:
                continue
            p = dict(zip(genres, map(float, seg.probabilities), strict=True))
            if outside:
                p[outside] = max(0.0, 1.0 - sum(p.values()))
            w_true.append(y)
            w_pred.append(index[outside if seg.outside else cast(str, seg.genre)])
            losses.append(-math.log(max(p[labels[y]], 1e-12)))
    ev = Evaluation(list(labels), np.array(t_true, np.int64), np.array(t_pred, np.int64),
                    np.array(w_true, np.int64), np.array(w_pred, np.int64),
                    float(np.mean(losses)) if losses else 0.0)  # fmt: skip
    return ev, unscored


def _all_finite(value: Any) -> bool:
    """No NaN or infinity anywhere in a report (numbers, lists, nested dicts)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_all_finite(v) for v in value)
    return True


COMMAND = Command(
    "evaluate",
    "test a model on a GTZAN-style folder",
    "Per-track and per-segment accuracy, macro F1 (the mean over the genres the tested "
    "tracks belong to), per-genre precision/recall and the confusion matrix, on the test "
    "subset of the chosen split (or every track with --split all). Each track is classified "
    "exactly as `classify` does it (same engine, sampling and silence rule).",
    add_arguments,
    lambda args: run(args),  # late-bound, so a patched run() is the one called
)
