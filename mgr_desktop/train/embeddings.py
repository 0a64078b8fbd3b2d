"""Frozen-backbone embeddings of every analysis segment, computed once per track and reused.

A probe (a genre head on a frozen pretrained network) then trains in seconds: after the first
pass only the head runs. Entries are keyed by the backbone's weights, the layers read, the
feature settings, the segment hop and the track's cached features, so nothing stale is reused.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from mgr_desktop.atomic import write_bytes_atomic
from mgr_desktop.config import FeatureConfig
from mgr_desktop.dsp.mel import cut_segments, normalise
from mgr_desktop.train.cache import Stopped

Progress = Callable[[int, int, str], None]


def weights_digest(module: torch.nn.Module) -> str:
    h = hashlib.blake2b(digest_size=8)
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def segment_embeddings(
    model: torch.nn.Module,
    feats: np.ndarray,
    cfg: FeatureConfig,
    hop_seconds: float,
    device: torch.device,
    batch: int = 64,
) -> np.ndarray:
    """(n_mels, frames) features of one track -> (segments, dim) raw backbone embeddings."""
    windows, _ = cut_segments(torch.from_numpy(np.asarray(feats, np.float32)), cfg, hop_seconds)
    out = []
    with torch.inference_mode():
        for i in range(0, len(windows), batch):
            x = normalise(windows[i : i + batch], cfg).unsqueeze(1).to(device)
            out.append(model.raw_embedding(x).float().cpu())  # type: ignore[operator]
    return torch.cat(out).numpy()


class EmbeddingCache:
    def __init__(
        self,
        folder: str | os.PathLike[str],
        model: torch.nn.Module,
        cfg: FeatureConfig,
        hop_seconds: float,
    ) -> None:
        from mgr_desktop.models.transfer import LAYERS

        self.model, self.cfg, self.hop = model, cfg, hop_seconds
        key = {
            "backbones": weights_digest(model.backbones),  # type: ignore[arg-type]
            "layers": list(LAYERS),
            "features": cfg.to_dict(),
            "hop": hop_seconds,
        }
        digest = hashlib.blake2b(json.dumps(key, sort_keys=True).encode(), digest_size=8)
        self.folder = Path(folder) / f"embed-{digest.hexdigest()}"

    def entry(self, track: str, feats: np.ndarray) -> Path:
        p = Path(track)
        st = p.stat()
        key = f"{p.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0{feats.shape}"
        return self.folder / f"{hashlib.blake2b(key.encode(), digest_size=16).hexdigest()}.npy"

    def build(
        self,
        tracks: Sequence[str],
        features: dict[str, np.ndarray],
        device: torch.device,
        on_progress: Progress | None = None,
        stop: threading.Event | None = None,
    ) -> dict[str, np.ndarray]:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.model.eval()
        out: dict[str, np.ndarray] = {}
        for done, track in enumerate(tracks, 1):
            if stop is not None and stop.is_set():
                raise Stopped()
            entry = self.entry(track, features[track])
            try:
                out[track] = np.load(entry, allow_pickle=False)
            except (OSError, ValueError, EOFError):
                emb = segment_embeddings(self.model, features[track], self.cfg, self.hop, device)
                buf = io.BytesIO()
                np.save(buf, emb.astype(np.float32), allow_pickle=False)
                write_bytes_atomic(entry, buf.getvalue(), durable=False)
                out[track] = emb
            if on_progress:
                on_progress(done, len(tracks), track)
        return out
