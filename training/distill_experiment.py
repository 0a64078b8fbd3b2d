"""Distillation against the teacher and against training from scratch, on the fault-filtered
valid subset (artist-disjoint from train). No test track is used or reported.

    MGR_DESKTOP_HOME=... python training/distill_experiment.py --data ../shared/gtzan-real \
        --json /tmp/distill/report.json --final /tmp/distill/student_all.safetensors

Models, each trained on the fault-filtered train subset only and scored on valid:
  a. teacher: musicnn MSD probe, the shipped recipe (`train_default_model.RECIPE`, the shipped
     model's epochs); its segment head calibrated by a temperature cross-fitted on train folds
     (as the shipped model's is on k-fold); verdict = its track head.
  b. student `cnn_fast` distilled from (a) on train + unlabelled songs (`--unlabelled`);
     no validation during training: the last epoch is kept.
  c. `cnn_fast` from scratch with the app's loop (`train.loop.fit`), the same number of
     labelled 3 s views per epoch. The loop needs validation tracks and keeps its best epoch
     on valid: both the last epoch (as b) and that optimistic best are reported.
  d. (`--with-cnn`) the default 22050 Hz `cnn` from scratch, the same way as c.
Scored on valid at a 3 s hop (ten segments per track; verdict: the app's rule for each model).
ECE (10 bins) at T = 1 and with T cross-fitted on valid halves (fitted on one half, measured
on the other). Speed: the model alone on ten 3 s segments (one 30 s track), CPU, 2 threads.

`--final`: then a student on all labelled tracks + the songs, taught by the app's shipped model
(waits for it), stored with the temperature fitted on valid for (b).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

# The sibling recipe script (importable as this script's folder is first on sys.path).
from train_default_model import RECIPE, summary

from mgr_desktop.config import MUSICNN_FEATURES
from mgr_desktop.models.checkpoint import ModelInfo, load_model, save_model
from mgr_desktop.models.registry import build_model
from mgr_desktop.paths import default_model_path
from mgr_desktop.train import events as ev
from mgr_desktop.train.calibrate import (
    expected_calibration_error,
    fit_temperature,
    track_probabilities,
)
from mgr_desktop.train.data import TrainData, prepare
from mgr_desktop.train.distill import DistillConfig, fit_distilled, unique_audio_files
from mgr_desktop.train.evaluation import track_logits, window_logp
from mgr_desktop.train.loop import STATE_FILE, evaluate, fit
from mgr_desktop.train.probe import _part, fit_probe, scale_head
from mgr_desktop.train.recipe import TrainConfig
from mgr_desktop.train.splits import Split
from mgr_desktop.train.state import load_state

HOP = 3.0  # scoring hop: ten segments per 30 s track, as timed
UNLABELLED = ("/usr/share/games/asc/music", "/usr/share/scummvm/drascula")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def printer(e: object) -> None:
    if isinstance(e, ev.EpochEnded):
        log(f"  epoch {e.epoch}/{e.epochs} loss {e.train_loss:.4f} "
            f"valid track {e.valid_track_accuracy:.3f} ({e.seconds:.0f} s)")  # fmt: skip
    elif isinstance(e, ev.Message):
        log("  " + e.text)


def songs(folders: list[str]) -> list[str]:
    files = sorted(str(p) for f in folders for p in Path(f).rglob("*")
                   if p.suffix.lower() in (".mp3", ".ogg") and p.is_file())  # fmt: skip
    return [str(p) for p in unique_audio_files(files)]


def scores(verdict_windows, segments, y: np.ndarray, labels: list[str]) -> dict:
    """verdict_windows: per track, the rows whose temperature-scaled mean log-probability is
    the verdict (a transfer model: its one track-head row). segments: per track, the segment
    logits (segment accuracy)."""
    probs = track_probabilities(verdict_windows, 1.0)
    out = summary(probs.argmax(1), y, probs, labels)
    out["ece_10_bins_t1"] = out.pop("ece_10_bins")
    seg_pred = np.concatenate([s.argmax(1).numpy() for s in segments])
    seg_true = np.concatenate([np.full(len(s), t) for s, t in zip(segments, y, strict=True)])
    out["segment_accuracy"] = float((seg_pred == seg_true).mean())
    # Cross-fitted calibration: each half of valid at a temperature fitted on the other half.
    rng = np.random.default_rng(0)
    half = np.zeros(len(y), int)
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        half[idx[1::2]] = 1
    cal = np.zeros_like(probs)
    temps = []
    for h in (0, 1):
        other = np.flatnonzero(half != h)
        t = fit_temperature([verdict_windows[i] for i in other], y[other].tolist())
        temps.append(t)
        mine = np.flatnonzero(half == h)
        cal[mine] = track_probabilities([verdict_windows[i] for i in mine], t)
    out["ece_10_bins_crossfit"] = expected_calibration_error(cal, y.tolist())
    out["crossfit_temperatures"] = temps
    out["temperature_on_all_valid"] = fit_temperature(verdict_windows, y.tolist())
    return out


def student_outputs(model, data: TrainData, part: str) -> list[torch.Tensor]:
    x, y = data.arrays(part)
    per: dict[int, np.ndarray] = {}
    evaluate(model, x, y, data.labels, data.features_cfg, torch.device("cpu"), HOP,
             per_track_out=per)  # fmt: skip
    return [torch.from_numpy(per[i]) for i in range(len(x))]


def speed(models: dict[str, tuple[object, tuple[int, int]]], reps: int = 20) -> dict[str, float]:
    """Median seconds per 30 s track (ten 3 s segments) of the model alone, run as the engine
    runs it (a musicnn model unfused through `outputs` + its track head; any other folded by
    `optimise_for_inference`; channels-last input). Interleaved, so that the load of a shared
    machine falls on every model alike."""
    from mgr_desktop.inference.engine import optimise_for_inference

    calls = {}
    for name, (m, (mels, frames)) in models.items():
        x = torch.randn(10, 1, mels, frames).abs().contiguous(memory_format=torch.channels_last)
        if hasattr(m, "outputs"):
            m = m.eval()

            def call(m=m, x=x):
                logits, _tags, emb = m.outputs(x)
                return logits, m.track_logits(emb)
        else:
            m = optimise_for_inference(m.eval(), torch.device("cpu"))

            def call(m=m, x=x):
                return m(x)

        calls[name] = call
    times: dict[str, list[float]] = {n: [] for n in calls}
    with torch.inference_mode():
        for r in range(reps + 3):
            for n, call in calls.items():
                t0 = time.perf_counter()
                call()
                if r >= 3:
                    times[n].append(time.perf_counter() - t0)
    return {n: statistics.median(t) for n, t in times.items()}


def measure_speed(report: dict, nets: dict, threads_after: int) -> None:
    for threads in (2, 1):
        torch.set_num_threads(threads)
        for name, sec in speed(nets).items():
            report["models"][name][f"seconds_per_30s_track_{threads}_threads"] = sec
        report[f"load_average_at_timing_{threads}_threads"] = os.getloadavg()
    torch.set_num_threads(threads_after)


def speed_only(args: argparse.Namespace) -> None:
    """Re-time the models of an earlier run (for a quieter moment on a shared machine)."""
    report = json.loads(Path(args.json).read_text())
    work = Path(args.work)
    teacher = work / "a_teacher" / "model.safetensors"
    nets = {
        "a_teacher_musicnn_msd": (
            load_model(teacher if teacher.exists() else default_model_path()).model,
            (96, 188),
        )
    }
    runs = {"b_distilled_cnn_fast": "b_distilled", "c_scratch_cnn_fast": "c_scratch_cnn_fast",
            "d_scratch_cnn_22k": "d_scratch_cnn_22k"}  # fmt: skip
    for name, folder in runs.items():
        if name in report["models"] and (work / folder / "model.safetensors").exists():
            shape = (128, 130) if name.startswith("d_") else (96, 188)
            nets[name] = (load_model(work / folder / "model.safetensors").model, shape)
    measure_speed(report, nets, args.threads)
    report["timed_teacher_file"] = str(teacher if teacher.exists() else default_model_path())
    table(report)
    Path(args.json).write_text(json.dumps(report, indent=1))


def teacher_on_train(config: TrainConfig, data: TrainData, folds: int = 4):
    """The probe on train, its segment head calibrated by a temperature fitted on out-of-fold
    segments of train (stratified folds; valid is not touched)."""
    emit = lambda e: None  # noqa: E731
    rng = np.random.default_rng(config.seed)
    by_fold: list[list] = [[] for _ in range(folds)]
    for lab in data.labels:
        ts = [t for t in data.split.train if t.label == lab]
        for i, j in enumerate(rng.permutation(len(ts))):
            by_fold[(i + data.labels.index(lab)) % folds].append(ts[j])
    segs, seg_y = [], []
    for k in range(folds):
        rest = [t for i, f in enumerate(by_fold) if i != k for t in f]
        fold = replace(data, split=Split(rest, [], by_fold[k], name=f"train-fold{k}"))
        _s, m, *_ = fit_probe(config, fold, Path("/tmp"), emit, None, calibrate=False)
        e, y = _part(fold, "test", m, torch.device("cpu"), config)
        segs += [s for w in window_logp(m, e, torch.device("cpu")) for s in w]
        seg_y += [c for w, c in zip(e, y, strict=True) for _ in range(len(w))]
    t_seg = fit_temperature([s[None] for s in segs], seg_y)
    blind = replace(data, split=Split(data.split.train, [], data.split.valid, name="ff-valid"))
    _s, model, *_ = fit_probe(config, blind, Path("/tmp"), emit, None)
    scale_head(model, t_seg)
    return model, t_seg


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--json", required=True, help="where to write the results")
    ap.add_argument("--work", default="/tmp/distill/runs")
    ap.add_argument("--unlabelled", nargs="*", default=list(UNLABELLED))
    ap.add_argument("--epochs", type=int, default=8, help="students' epochs (b, c, d)")
    ap.add_argument("--teacher-epochs", type=int, default=19, help="the shipped recipe's")
    ap.add_argument("--with-cnn", action="store_true", help="also (d): cnn at 22050 Hz")
    ap.add_argument("--final", help="also write the student on all tracks here")
    # One thread trains fastest on a loaded 2-core machine (two threads wait on each other);
    # the speed table is measured at 2 and at 1 thread either way.
    ap.add_argument("--threads", type=int, default=1, help="torch threads for training")
    ap.add_argument("--speed-only", action="store_true", help="re-time the models of --work")
    args = ap.parse_args()
    if args.speed_only:
        speed_only(args)
        return
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    work = Path(args.work)
    distill = DistillConfig(hop_seconds=3.0, max_segments_per_song=30)
    student_cfg = TrainConfig(arch="cnn_fast", epochs=args.epochs, batch_size=64,
                              eval_hop_seconds=HOP, seed=0, device="cpu")  # fmt: skip
    # The loop takes one random crop per crop_per_track: as many labelled views as (b).
    scratch_cfg = replace(student_cfg, crops_per_track=10)
    teacher_cfg = replace(RECIPE, epochs=args.teacher_epochs, device="cpu")
    files = songs(args.unlabelled)
    log(f"{len(files)} unlabelled songs")
    data = prepare(args.data, "fault-filtered", features_cfg=MUSICNN_FEATURES)[0]
    labels = data.labels
    _, vy = data.arrays("valid")
    y = np.array(vy)
    counts = {p: {lab: sum(t.label == lab for t in getattr(data.split, p)) for lab in labels}
              for p in ("train", "valid")}  # fmt: skip
    report: dict = {
        "protocol": __doc__, "tracks": counts, "unlabelled_songs": len(files),
        "distill": distill.__dict__, "student_config": student_cfg.to_dict(),
        "scratch_config": scratch_cfg.to_dict(), "teacher_config": teacher_cfg.to_dict(),
        "test": "not measured (the held-out test tracks are absent)", "models": {},
        "wall_seconds": {},
    }  # fmt: skip

    # (a) teacher
    t0 = time.perf_counter()
    teacher, t_seg = teacher_on_train(teacher_cfg, data)
    save_model(work / "a_teacher" / "model.safetensors", teacher, ModelInfo(
        "musicnn_msd", tuple(labels), MUSICNN_FEATURES, name="teacher on ff-train"))  # fmt: skip
    e, _ = _part(replace(data, split=Split([], [], data.split.valid)), "test", teacher,
                 torch.device("cpu"), teacher_cfg)  # fmt: skip
    z = track_logits(teacher, e, torch.device("cpu"))
    with torch.inference_mode():
        seg = [teacher.head_logits(x) for x in e]
    report["models"]["a_teacher_musicnn_msd"] = {
        **scores([r[None] for r in z], seg, y, labels),
        "segment_temperature_train_oof": t_seg,
    }
    report["wall_seconds"]["a_teacher"] = time.perf_counter() - t0
    log(f"teacher: {short(report['models']['a_teacher_musicnn_msd'])}")

    # (b) distilled student
    t0 = time.perf_counter()
    train_only = replace(data, split=Split(data.split.train, [], [], name="ff-train"))
    run = fit_distilled(student_cfg, teacher, train_only, files, work / "b_distilled", printer,
                        distill=distill, teacher_name="musicnn_msd probe on ff-train")  # fmt: skip
    student = load_model(run.model_path).model
    w = student_outputs(student, data, "valid")
    report["models"]["b_distilled_cnn_fast"] = {
        **scores(w, w, y, labels), "history": run.metrics["history"],
        "segments": {k: v for k, v in run.metrics["distillation"].items() if "segments" in k},
    }  # fmt: skip
    report["wall_seconds"]["b_distilled"] = time.perf_counter() - t0
    log(f"distilled: {short(report['models']['b_distilled_cnn_fast'])}")

    # (c), (d) from scratch with the app's loop
    scratch = {"c_scratch_cnn_fast": (scratch_cfg, data)}
    if args.with_cnn:
        plain = prepare(args.data, "fault-filtered")[0]
        scratch["d_scratch_cnn_22k"] = (replace(scratch_cfg, arch="cnn"), plain)
    for name, (cfg, d) in scratch.items():
        t0 = time.perf_counter()
        tv = replace(d, split=Split(d.split.train, d.split.valid, [], name="ff-train-valid"))
        result = fit(cfg, tv, work / name, printer)
        best = load_model(result.model_path).model
        _meta, weights = load_state(work / name / STATE_FILE)
        last = build_model(cfg.arch, len(labels))
        last.load_state_dict(weights)
        wl, wb = student_outputs(last, d, "valid"), student_outputs(best, d, "valid")
        best_scores = scores(wb, wb, y, labels)
        report["models"][name] = {
            **scores(wl, wl, y, labels),
            "best_epoch_on_valid": {k: best_scores[k] for k in (
                "track_accuracy", "four_full_genres_accuracy", "balanced_accuracy",
                "segment_accuracy")},
            "best_epoch": int(np.argmax([h["valid_track_accuracy"]
                                         for h in result.metrics["history"]])) + 1,
            "history": result.metrics["history"],
        }  # fmt: skip
        report["models"][name]["_model"] = last
        report["wall_seconds"][name] = time.perf_counter() - t0
        log(f"{name}: {short(report['models'][name])}")

    # speed, the model alone
    nets = {"a_teacher_musicnn_msd": (teacher, (96, 188)),
            "b_distilled_cnn_fast": (student, (96, 188))}  # fmt: skip
    for name in scratch:
        shape = (96, 188) if "fast" in name else (128, 130)
        nets[name] = (report["models"][name].pop("_model"), shape)
    measure_speed(report, nets, args.threads)
    report["wall_seconds"]["experiment"] = time.perf_counter() - t_start
    table(report)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=1))
    log(f"wrote {args.json}")

    if args.final:
        t0 = time.perf_counter()
        path = default_model_path()
        while not path.exists():
            log(f"waiting for {path}")
            time.sleep(60)
        shipped = load_model(path)
        if shipped.info.features != MUSICNN_FEATURES or list(shipped.info.labels) != labels:
            raise SystemExit(f"{path}: other features or labels than this data's")
        everything = [*data.split.train, *data.split.valid]
        all_data = replace(data, split=Split(everything, [], [], name="all"))
        t_b = report["models"]["b_distilled_cnn_fast"]["temperature_on_all_valid"]
        run = fit_distilled(student_cfg, shipped.model, all_data, files, work / "final", printer,
                            distill=distill, temperature=t_b,
                            teacher_name=f"{path.name} ({shipped.info.name})")  # fmt: skip
        Path(args.final).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run.model_path, args.final)
        load_model(args.final)
        report["final"] = {"path": args.final, "teacher": str(path), "temperature": t_b,
                           "wall_seconds": time.perf_counter() - t0,
                           "distillation": run.metrics["distillation"]}  # fmt: skip
        Path(args.json).write_text(json.dumps(report, indent=1))
        log(f"wrote {args.final}")


def short(m: dict) -> str:
    return (f"track {m['track_accuracy']:.3f} four {m['four_full_genres_accuracy']:.3f} "
            f"balanced {m['balanced_accuracy']:.3f} segment {m['segment_accuracy']:.3f} "
            f"ECE {m['ece_10_bins_t1']:.3f}/{m['ece_10_bins_crossfit']:.3f}")  # fmt: skip


def table(report: dict) -> None:
    print(f"\nfault-filtered valid ({sum(report['tracks']['valid'].values())} tracks), "
          "trained on train only; no test figure")  # fmt: skip
    head = (f"{'model':28s} {'track':>6s} {'4 full':>6s} {'bal.':>6s} {'segm.':>6s} "
            f"{'ECE T1':>6s} {'ECE cf':>6s} {'ms 2thr':>7s} {'ms 1thr':>7s}")  # fmt: skip
    print(head)
    for name, m in report["models"].items():
        print(f"{name:28s} {m['track_accuracy']:6.3f} {m['four_full_genres_accuracy']:6.3f} "
              f"{m['balanced_accuracy']:6.3f} {m['segment_accuracy']:6.3f} "
              f"{m['ece_10_bins_t1']:6.3f} {m['ece_10_bins_crossfit']:6.3f} "
              f"{1000 * m.get('seconds_per_30s_track_2_threads', float('nan')):7.1f} "
              f"{1000 * m.get('seconds_per_30s_track_1_threads', float('nan')):7.1f}")  # fmt: skip
        if "best_epoch_on_valid" in m:
            b = m["best_epoch_on_valid"]
            print(f"{'  (best epoch on valid)':28s} {b['track_accuracy']:6.3f} "
                  f"{b['four_full_genres_accuracy']:6.3f} {b['balanced_accuracy']:6.3f} "
                  f"{b['segment_accuracy']:6.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
