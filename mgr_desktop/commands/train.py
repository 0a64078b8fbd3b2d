"""`mgr-desktop train`: the training loop from a terminal (also under torchrun)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from mgr_desktop.cli import EXIT_OK, EXIT_SOME_FAILED
from mgr_desktop.commands.common import fail_usage, progress


def add_parser(sub: Any, device_help: str) -> None:
    from mgr_desktop.train.splits import SPLITS

    p = sub.add_parser(
        "train", help="train a genre model on a GTZAN-style folder",
        description="Train on a folder of genre subfolders (GTZAN in any usual layout). Writes "
                    "OUT/model.safetensors (best on validation), OUT/last.safetensors (to resume) "
                    "and OUT/metrics.json. Runs under torchrun for several GPUs or machines.",
    )  # fmt: skip
    p.add_argument("--data", required=True, metavar="ROOT", help="dataset folder")
    from mgr_desktop.models.registry import ARCHITECTURES, DEFAULT_ARCH

    p.add_argument(
        "--arch",
        choices=tuple(ARCHITECTURES),
        default=DEFAULT_ARCH,
        help="; ".join(f"{a.name}: {a.title}" for a in ARCHITECTURES.values())
        + f" (default {DEFAULT_ARCH})",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="run folder")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=32, help="per process under torchrun")
    p.add_argument(
        "--max-lr",
        type=float,
        help="OneCycle peak (default: "
        + ", ".join(f"{a.default_max_lr:g} {a.name}" for a in ARCHITECTURES.values())
        + ")",
    )
    p.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW weight decay")
    clip = p.add_mutually_exclusive_group()
    clip.add_argument("--clip-value", type=float, help="clip gradients by value (default 0.1)")
    clip.add_argument("--clip-norm", type=float, help="clip gradients by global norm instead")
    p.add_argument(
        "--split",
        choices=SPLITS,
        default="random",
        help="random 70/15/15 by track (stratified), the published fault-filtered "
        "GTZAN split, or k-fold",
    )
    p.add_argument("--folds", type=int, default=5, help="k for --split kfold")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help=device_help)
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
    p.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA", help="mixup alpha (0: off)")
    p.add_argument(
        "--crops-per-track",
        type=int,
        default=1,
        help="random 3 s crops of each training track per epoch",
    )
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--cache", metavar="DIR", help="feature cache folder")
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from mgr_desktop.device import DeviceUnavailableError, pick_device
    from mgr_desktop.models.registry import get_architecture
    from mgr_desktop.train.data import prepare
    from mgr_desktop.train.discover import DatasetError
    from mgr_desktop.train.loop import ResumeError, fit
    from mgr_desktop.train.recipe import TrainConfig

    try:
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
            features_cfg=get_architecture(config.arch).features, on_event=printer,
        )  # fmt: skip
    except DatasetError as e:
        return fail_usage(str(e))
    if args.resume and args.split == "kfold":
        return fail_usage("--resume is not supported with --split kfold")
    try:
        if len(folds) == 1:
            result = fit(config, folds[0], out, printer, resume=args.resume)
            printer.close()
            return EXIT_OK if result.status == "finished" else EXIT_SOME_FAILED
        return _kfold(config, folds, out, printer)
    except ResumeError as e:
        printer.close()
        return fail_usage(str(e))


def _kfold(config: Any, folds: list[Any], out: Path, printer: Printer) -> int:
    from mgr_desktop.train.kfold import SCORES, fit_folds

    status, summary = fit_folds(config, folds, out, printer)
    printer.close()
    if status != "finished":
        return EXIT_SOME_FAILED
    for k in SCORES:
        print(f"{k}: {summary[k]['mean']:.3f} ± {summary[k]['std']:.3f} over {len(folds)} folds")
    return EXIT_OK


class Printer:
    """Turns loop events into progress bars on stderr and a line per epoch on stdout."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.bar: Any = None

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __call__(self, e: dict[str, Any]) -> None:
        if not self.enabled:
            return
        kind = e["kind"]
        if kind == "dataset":
            print(e["summary"], file=sys.stderr)
        elif kind == "cache_start":
            self.close()
            self.bar = progress(total=e["total"], unit="track", desc="features")
        elif kind == "cache_progress" and self.bar is not None:
            self.bar.n = e["done"]
            self.bar.refresh()
        elif kind == "cache_done":
            self.close()
            print(
                f"features: {e['total']} tracks ({e['hits']} from cache, {e['failed']} failed)",
                file=sys.stderr,
            )
        elif kind == "epoch_start":
            self.close()
            self.bar = progress(
                total=e["batches"],
                unit="batch",
                desc=f"epoch {e['epoch'] + 1}/{e['epochs']}",
                leave=False,
            )
        elif kind == "batch" and self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{e['loss']:.3f}", lr=f"{e['lr']:.2e}")
        elif kind == "epoch_end":
            self.close()
            print(
                f"epoch {e['epoch']:3d}/{e['epochs']}  train loss {e['train_loss']:.4f}  "
                f"valid loss {e['valid_loss']:.4f}  valid acc track "
                f"{e['valid_track_accuracy']:.3f} window {e['valid_segment_accuracy']:.3f}  "
                f"lr {e['lr']:.2e}  ({e['seconds']:.1f} s)",
                flush=True,
            )
        elif kind == "test":
            m = e["metrics"]
            print(
                f"test: track accuracy {m['track_accuracy']:.3f}, window accuracy "
                f"{m['segment_accuracy']:.3f}, macro F1 {m['macro_f1']:.3f} "
                f"({m['tracks']} tracks)",
                flush=True,
            )
        elif kind in ("message", "resumed"):
            self.close()
            print(e["text"], file=sys.stderr, flush=True)
        elif kind == "stopped":
            self.close()
            print(f"stopped in epoch {e['epoch'] + 1}; continue with --resume", file=sys.stderr)
        elif kind == "done":
            print(f"model: {e['model']}", flush=True)
