"""Evaluation as the app sees it: every segment of every track, aggregated per track as in
inference. Training validates and tests with it; `mgr-desktop evaluate` scores a model with it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mgr_desktop.config import FeatureConfig
from mgr_desktop.dsp.mel import cut_segments, normalise
from mgr_desktop.train.distributed import Dist
from mgr_desktop.train.metrics import Evaluation, evaluation_from_window_logp


def evaluate(
    model: nn.Module,
    feats: list[np.ndarray],
    targets: list[int],
    labels: list[str],
    cfg: FeatureConfig,
    device: torch.device,
    hop_seconds: float = 1.5,
    dist: Dist | None = None,
    batch_windows: int = 256,
    temperature: float = 1.0,
    per_track_out: dict[int, np.ndarray] | None = None,
    track_head: bool = False,
) -> Evaluation:
    """Every window of every track (hop `hop_seconds`), aggregated per track as in inference.
    Under torchrun each rank takes a share of the tracks and the results are gathered.
    `track_head`: the architecture's (models.registry) verdict from its track head."""
    if track_head:  # a track head gives the verdict, as in inference
        return _evaluate_track_head(model, feats, targets, labels, cfg, device, hop_seconds)
    d = dist or Dist()
    mine = list(range(d.rank, len(feats), d.world))
    per_track: dict[int, np.ndarray] = {}
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        pending: list[tuple[int, torch.Tensor]] = []

        def flush() -> None:
            x = torch.cat([w for _, w in pending])
            x = normalise(x, cfg).unsqueeze(1).to(device)
            logp = torch.log_softmax(model(x).float() / temperature, -1).cpu().numpy()
            pos = 0
            for i, w in pending:
                per_track[i] = logp[pos : pos + len(w)]
                pos += len(w)
            pending.clear()

        for i in mine:
            windows, _ = cut_segments(
                torch.from_numpy(feats[i].astype(np.float32)), cfg, hop_seconds
            )
            pending.append((i, windows))
            if sum(len(w) for _, w in pending) >= batch_windows:
                flush()
        if pending:
            flush()
    model.train(was_training)
    for part in d.gather(per_track):
        per_track.update(part)
    if per_track_out is not None:
        per_track_out.update(per_track)
    order = sorted(per_track)
    return evaluation_from_window_logp(
        [per_track[i] for i in order], [targets[i] for i in order], labels
    )


def _evaluate_track_head(
    model: nn.Module,
    feats: list[np.ndarray],
    targets: list[int],
    labels: list[str],
    cfg: FeatureConfig,
    device: torch.device,
    hop_seconds: float,
) -> Evaluation:
    """Segment scores from the segment head, track verdicts from the track head (a
    temperature cannot change which genre wins, so none is needed here)."""
    from mgr_desktop.train.embeddings import segment_embeddings

    model.eval()
    embeddings = [
        torch.from_numpy(segment_embeddings(model, f, cfg, hop_seconds, device)) for f in feats
    ]
    ev = evaluate_embeddings(model, embeddings, targets, labels, device)
    ev.track_pred = track_logits(model, embeddings, device).argmax(1).numpy()
    return ev


def window_logp_per_track(
    model: nn.Module,
    feats: list[np.ndarray],
    targets: list[int],
    labels: list[str],
    cfg: FeatureConfig,
    device: torch.device,
    hop_seconds: float,
    d: Dist,
    track_head: bool = False,
) -> list[torch.Tensor]:
    """Each track's window log-probabilities (at temperature 1), for fitting a temperature."""
    ev_hook: dict[int, np.ndarray] = {}
    evaluate(model, feats, targets, labels, cfg, device, hop_seconds, d,
             per_track_out=ev_hook, track_head=track_head)  # fmt: skip
    return [torch.from_numpy(ev_hook[i]) for i in sorted(ev_hook)]


def track_logits(
    model: nn.Module, embeddings: list[torch.Tensor], device: torch.device
) -> torch.Tensor:
    """(tracks, classes) verdict logits (before the temperature)."""
    model.eval()
    with torch.inference_mode():
        return torch.stack(
            [model.track_logits(e.to(device)).float().cpu() for e in embeddings]  # type: ignore[operator]
        )


def window_logp(
    model: nn.Module, embeddings: list[torch.Tensor], device: torch.device
) -> list[torch.Tensor]:
    model.eval()
    with torch.inference_mode():
        return [
            torch.log_softmax(model.head_logits(e.to(device)).float(), -1).cpu()  # type: ignore[operator]
            for e in embeddings
        ]


def evaluate_embeddings(
    model: nn.Module,
    embeddings: list[torch.Tensor],
    targets: list[int],
    labels: list[str],
    device: torch.device,
    temperature: float = 1.0,
) -> Evaluation:
    logp = window_logp(model, embeddings, device)
    logp = [torch.log_softmax(w / temperature, -1) for w in logp]
    return evaluation_from_window_logp([w.numpy() for w in logp], targets, labels)
