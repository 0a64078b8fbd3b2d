"""`mgr-desktop train`: the training loop from a terminal (also under torchrun)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mgr_desktop.commands.common import (
    DEVICE_HELP,
    EXIT_OK,
    EXIT_SOME_FAILED,
    Command,
    add_verbose,
    fail_usage,
    in_range,
    progress,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from mgr_desktop.train.splits import SPLITS

    p.add_argument(
        "--data",
        required=True,
        metavar="ROOT",
        help="dataset folder (genre subfolders), or with --labels-from-tags any music folder",
    )
    p.add_argument(
        "--labels-from-tags",
        action="store_true",
        help="learn the genres your files' own genre tags give (any folder layout); splits "
        "keep each artist on one side; untagged files are listed, for the model to tag",
    )
    p.add_argument(
        "--min-tracks",
        type=int,
        action=in_range(1),
        default=5,
        metavar="N",
        help="--labels-from-tags: drop genres with fewer tracks (default 5)",
    )
    p.add_argument(
        "--min-artists",
        type=int,
        action=in_range(1),
        default=2,
        metavar="N",
        help="--labels-from-tags: drop genres with fewer artists (default 2)",
    )
    from mgr_desktop.models.registry import ARCHITECTURES, DEFAULT_ARCH

    p.add_argument(
        "--arch",
        choices=tuple(ARCHITECTURES),
        default=DEFAULT_ARCH,
        help="; ".join(f"{a.name}: {a.title}" for a in ARCHITECTURES.values())
        + f" (default {DEFAULT_ARCH})",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="run folder")
    p.add_argument("--epochs", type=int, action=in_range(1), default=30)
    p.add_argument(
        "--batch-size",
        type=int,
        action=in_range(1),
        default=32,
        help="per process under torchrun",
    )
    p.add_argument(
        "--max-lr",
        type=float,
        action=in_range(1e-9, 10.0),
        help="OneCycle peak (default: "
        + ", ".join(f"{a.default_max_lr:g} {a.name}" for a in ARCHITECTURES.values())
        + ")",
    )
    p.add_argument(
        "--weight-decay",
        type=float,
        action=in_range(0.0, 10.0),
        default=1e-4,
        help="AdamW weight decay",
    )
    clip = p.add_mutually_exclusive_group()
    positive = in_range(1e-9)
    clip.add_argument(
        "--clip-value", type=float, action=positive, help="clip gradients by value (default 0.1)"
    )
    clip.add_argument(
        "--clip-norm", type=float, action=positive, help="clip gradients by global norm instead"
    )
    p.add_argument(
        "--split",
        choices=SPLITS,
        default="random",
        help="random 70/15/15 by track (stratified), the published fault-filtered "
        "GTZAN split, or k-fold; with --labels-from-tags random and k-fold are by artist",
    )
    p.add_argument(
        "--folds", type=int, action=in_range(2, 100), default=5, help="k for --split kfold"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument(
        "--pretrained",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="; ".join(
            f"{a.name}: {a.pretrained_help}" for a in ARCHITECTURES.values() if a.pretrained_help
        ),
    )
    p.add_argument(
        "--fine-tune",
        action="store_true",
        help="transfer architectures: train the whole network, not just the genre head on the "
        "frozen pretrained one (slower; the head alone trains in seconds from cached embeddings)",
    )
    p.add_argument(
        "--mixup",
        type=float,
        action=in_range(0.0, 100.0),
        default=0.0,
        metavar="ALPHA",
        help="mixup alpha (0: off)",
    )
    p.add_argument(
        "--crops-per-track",
        type=int,
        action=in_range(1, 1000),
        default=1,
        help="random 3 s crops of each training track per epoch",
    )
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--cache", metavar="DIR", help="feature cache folder")
    add_verbose(p)


if TYPE_CHECKING:  # the events module is light, but parsing arguments imports nothing of train
    from mgr_desktop.train.events import (
        BatchProgress,
        CacheDone,
        CacheProgress,
        CacheStarted,
        EpochEnded,
        EpochStarted,
        Event,
        FoldStarted,
        KFoldFinished,
        Message,
        Resumed,
        RunStopped,
        TestMeasured,
    )


def run(args: argparse.Namespace) -> int:
    from mgr_desktop.device import DeviceUnavailableError, pick_device
    from mgr_desktop.models.registry import get_architecture
    from mgr_desktop.train.data import prepare
    from mgr_desktop.train.dataset_tracks import DatasetError
    from mgr_desktop.train.loop import ResumeError, fit
    from mgr_desktop.train.recipe import TrainConfig
    from mgr_desktop.train.runs import FINISHED
    from mgr_desktop.train.tag_dataset import TagRules, write_untagged

    try:
        tags = TagRules(args.min_tracks, args.min_artists) if args.labels_from_tags else None
        config = TrainConfig(
            arch=args.arch, epochs=args.epochs, batch_size=args.batch_size, max_lr=args.max_lr,
            weight_decay=args.weight_decay,
            clip_value=None if args.clip_norm is not None else (args.clip_value or 0.1),
            clip_norm=args.clip_norm, seed=args.seed, device=args.device,
            pretrained=args.pretrained, mixup_alpha=args.mixup,
            freeze_backbone=not args.fine_tune,
            crops_per_track=args.crops_per_track,
        )  # fmt: skip
        pick_device(args.device)
    except (ValueError, DeviceUnavailableError) as e:
        return fail_usage(str(e))
    out = Path(args.out)
    is_main = int(os.environ.get("RANK", "0")) == 0
    printer = Printer(enabled=is_main)
    try:
        folds = prepare(
            args.data, args.split, args.seed, args.folds, args.cache,
            features_cfg=get_architecture(config.arch).features, on_event=printer, tags=tags,
        )  # fmt: skip
    except DatasetError as e:
        return fail_usage(str(e))
    if is_main:
        write_untagged(out, folds[0].report)
    if args.resume and args.split == "kfold":
        return fail_usage("--resume is not supported with --split kfold")
    try:
        if len(folds) == 1:
            status = fit(config, folds[0], out, printer, resume=args.resume).status
        else:
            from mgr_desktop.train.kfold import fit_folds

            status, _ = fit_folds(config, folds, out, printer)  # the printer shows mean ± std
    except ResumeError as e:
        return fail_usage(str(e))
    finally:
        printer.close()
    if status == FINISHED and is_main and tags is not None:
        _report_tags_run(out)
    return EXIT_OK if status == FINISHED else EXIT_SOME_FAILED


def _report_tags_run(out: Path) -> None:
    """After a run on tag labels: accuracy per genre, and how to tag the untagged files."""
    from mgr_desktop.train.runs import MODEL_FILE, read_metrics, read_run
    from mgr_desktop.train.tag_dataset import UNTAGGED_FILE, preview_command, read_untagged

    report, which = read_run(out).test, "test"
    if not report:
        report, which = (read_metrics(out) or {}).get("valid"), "validation"
    if report:
        print(f"accuracy per genre ({which}, {report['tracks']} tracks, artists never "
              "trained on):", flush=True)  # fmt: skip
        for lab in report["labels"]:
            m = report["per_class"][lab]
            if m["support"]:
                print(f"  {lab:>16}: {m['recall']:.3f} of {m['support']} tracks")
    untagged = read_untagged(out) or []
    if not untagged:
        print("untagged files: none", flush=True)
        return
    print(
        f"untagged files: {len(untagged)} (listed in {out / UNTAGGED_FILE}). "
        "Preview the genres this model would write into them:\n  "
        + preview_command(out / MODEL_FILE, untagged, out / UNTAGGED_FILE)
        + "\nthen run it again without --dry-run to write them.",
        flush=True,
    )


class Printer:
    """Turns training events into progress bars on stderr and a line per epoch on stdout."""

    def __init__(self, enabled: bool = True) -> None:
        from mgr_desktop.train import events as ev

        self.enabled = enabled
        self.bar: Any = None
        self._show: dict[type, Callable[[Any], None]] = {
            ev.DatasetFound: lambda e: print(e.summary, file=sys.stderr),
            ev.CacheStarted: self._cache_started,
            ev.CacheProgress: self._cache_progress,
            ev.CacheDone: self._cache_done,
            ev.EpochStarted: self._epoch_started,
            ev.BatchProgress: self._batch,
            ev.EpochEnded: self._epoch_ended,
            ev.TestMeasured: self._test,
            ev.Message: self._text,
            ev.Resumed: self._text,
            ev.FoldStarted: self._text,
            ev.RunStopped: self._stopped,
            ev.FitFinished: lambda e: print(f"model: {e.model}", flush=True),
            ev.KFoldFinished: self._kfold,
        }

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __call__(self, e: Event) -> None:
        show = self._show.get(type(e))
        if self.enabled and show is not None:
            show(e)

    def _cache_started(self, e: CacheStarted) -> None:
        self.close()
        self.bar = progress(total=e.total, unit="track", desc="features")

    def _cache_progress(self, e: CacheProgress) -> None:
        if self.bar is not None:
            self.bar.n = e.done
            self.bar.refresh()

    def _cache_done(self, e: CacheDone) -> None:
        self.close()
        print(
            f"features: {e.total} tracks ({e.hits} from cache, {e.failed} failed)",
            file=sys.stderr,
        )

    def _epoch_started(self, e: EpochStarted) -> None:
        self.close()
        self.bar = progress(
            total=e.batches, unit="batch", desc=f"epoch {e.epoch + 1}/{e.epochs}", leave=False
        )

    def _batch(self, e: BatchProgress) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{e.loss:.3f}", lr=f"{e.lr:.2e}")

    def _epoch_ended(self, e: EpochEnded) -> None:
        self.close()
        print(
            f"epoch {e.epoch:3d}/{e.epochs}  train loss {e.train_loss:.4f}  "
            f"valid loss {e.valid_loss:.4f}  valid acc track "
            f"{e.valid_track_accuracy:.3f} window {e.valid_segment_accuracy:.3f}  "
            f"lr {e.lr:.2e}  ({e.seconds:.1f} s)",
            flush=True,
        )

    def _test(self, e: TestMeasured) -> None:
        m = e.metrics
        print(
            f"test: track accuracy {m['track_accuracy']:.3f}, window accuracy "
            f"{m['segment_accuracy']:.3f}, macro F1 {m['macro_f1']:.3f} "
            f"({m['tracks']} tracks)",
            flush=True,
        )

    def _text(self, e: Message | Resumed | FoldStarted) -> None:
        self.close()
        print(e.text, file=sys.stderr, flush=True)

    def _stopped(self, e: RunStopped) -> None:
        self.close()
        print(f"stopped in epoch {e.epoch + 1}; continue with --resume", file=sys.stderr)

    def _kfold(self, e: KFoldFinished) -> None:
        self.close()
        for k, s in e.summary.items():
            print(f"{k}: {s['mean']:.3f} ± {s['std']:.3f} over {e.folds} folds", flush=True)


COMMAND = Command(
    "train",
    "train a genre model on a GTZAN-style folder or your own tagged music",
    "Train on a folder of genre subfolders (GTZAN in any usual layout), or with "
    "--labels-from-tags on any music folder whose files carry genre tags. Writes "
    "OUT/model.safetensors (best on validation), OUT/last.safetensors (to resume) and "
    "OUT/metrics.json (and OUT/untagged.txt with --labels-from-tags). Runs under torchrun for "
    "several GPUs or machines.",
    add_arguments,
    lambda args: run(args),  # late-bound: tests and the Train tab may patch run
)
