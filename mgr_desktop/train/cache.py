"""Decode + log-mel once per track, reused by later runs and by the app.

An entry's name hashes the feature settings, the file's absolute path, size and mtime, so an
edited file or a different configuration never hits a stale entry. Entries are written to a
temporary name and renamed: a killed run leaves nothing a later run would trust.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mgr_desktop.atomic import write_bytes_atomic
from mgr_desktop.audio.decode import AudioDecodeError, decode_file
from mgr_desktop.config import FeatureConfig
from mgr_desktop.dsp.mel import LogMel, pad_to_window

Progress = Callable[[int, int, str], None]


class Stopped(Exception):
    """The user asked to stop; raised between files."""


@dataclass
class CacheResult:
    features: dict[str, np.ndarray]  # path -> float16 dB (n_mels, frames)
    failures: list[tuple[str, str]]  # (path, reason)
    hits: int = 0


class FeatureCache:
    def __init__(self, folder: str | os.PathLike[str], cfg: FeatureConfig) -> None:
        self.cfg = cfg
        digest = hashlib.blake2b(
            json.dumps(cfg.to_dict(), sort_keys=True).encode(), digest_size=8
        ).hexdigest()
        self.folder = Path(folder) / f"logmel-{digest}"
        self._mel = LogMel(cfg)

    def entry(self, path: Path) -> Path:
        st = path.stat()
        key = f"{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}"
        return self.folder / f"{hashlib.blake2b(key.encode(), digest_size=16).hexdigest()}.npy"

    def get(self, path: Path) -> np.ndarray | None:
        try:
            return np.load(self.entry(path), allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None  # absent or damaged: recompute

    def compute(self, path: Path) -> np.ndarray:
        audio = decode_file(path, self.cfg.sample_rate)
        wave = pad_to_window(audio.samples, self.cfg)
        with torch.inference_mode():
            db = self._mel(torch.from_numpy(wave)).numpy().astype(np.float16)
        buf = io.BytesIO()
        np.save(buf, db, allow_pickle=False)
        write_bytes_atomic(self.entry(path), buf.getvalue(), durable=False)
        return db

    def build(
        self,
        paths: Sequence[Path],
        on_progress: Progress | None = None,
        stop: threading.Event | None = None,
        workers: int | None = None,
    ) -> CacheResult:
        """Features for every path, computing the missing ones on all cores."""
        result = CacheResult({}, [])
        todo: list[Path] = []
        for p in paths:
            hit = self.get(p)
            if hit is None:
                todo.append(p)
            else:
                result.features[str(p)] = hit
                result.hits += 1
        if on_progress:
            on_progress(result.hits, len(paths), "")
        if todo:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._compute_all(todo, result, len(paths), on_progress, stop, workers)
        if stop is not None and stop.is_set():
            raise Stopped()
        return result

    def _compute_all(
        self,
        todo: list[Path],
        result: CacheResult,
        total: int,
        on_progress: Progress | None,
        stop: threading.Event | None,
        workers: int | None,
    ) -> None:
        def one(p: Path) -> tuple[Path, np.ndarray | None, str]:
            if stop is not None and stop.is_set():
                return p, None, "stopped"
            try:
                return p, self.compute(p), ""
            except AudioDecodeError as e:
                return p, None, e.reason
            except OSError as e:
                return p, None, f"cannot write cache entry ({e.strerror or e})"

        done = result.hits
        n = workers or os.cpu_count() or 1
        # One torch thread per worker, set once as it starts: the workers already fill the
        # cores (libsndfile, soxr and torch all release the GIL), and nested thread pools would
        # oversubscribe them. The caller's own thread count is left alone.
        one_each = {"initializer": torch.set_num_threads, "initargs": (1,)} if n > 1 else {}
        with ThreadPoolExecutor(max_workers=n, thread_name_prefix="cache", **one_each) as pool:
            for p, feats, problem in pool.map(one, todo):
                done += 1
                if problem == "stopped":
                    continue
                if feats is None:
                    result.failures.append((str(p), problem))
                else:
                    result.features[str(p)] = feats
                if on_progress:
                    on_progress(done, total, str(p))
