"""Find a genre dataset on disk and report what is in it.

Accepts GTZAN in its usual layouts (`genres/`, `genres_original/`, `Data/genres_original/`,
`.au` or `.wav`) and any folder of genre-named subfolders: labels are the folder names, sorted.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf

from mgr_desktop.audio.decode import is_audio_path

LAYOUTS = ("", "genres_original", "genres", "Data/genres_original", "Data/genres", "gtzan")


class DatasetError(Exception):
    """The folder is not a usable genre dataset; the message says why and what was expected."""


@dataclass(frozen=True)
class Track:
    path: Path
    label: str

    @property
    def stem(self) -> str:
        return self.path.stem


@dataclass
class DatasetReport:
    root: Path
    labels: list[str]
    tracks: list[Track]
    seconds: dict[str, float] = field(default_factory=dict)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (skipped, same as)

    def counts(self) -> dict[str, int]:
        c = Counter(t.label for t in self.tracks)
        return {lab: c.get(lab, 0) for lab in self.labels}

    def summary(self) -> str:
        counts = self.counts()
        lines = [f"{self.root}: {len(self.tracks)} tracks in {len(self.labels)} genres"]
        for lab in self.labels:
            lines.append(
                f"  {lab:>12}: {counts[lab]:4d} tracks, {self.seconds.get(lab, 0) / 60:6.1f} min"
            )
        for path, reason in self.unreadable:
            lines.append(f"  unreadable, skipped: {path}: {reason}")
        for dup, orig in self.duplicates:
            lines.append(f"  duplicate, skipped: {dup} (same content as {orig})")
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        return {
            "root": str(self.root),
            "labels": self.labels,
            "tracks": self.counts(),
            "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
            "unreadable": [{"path": p, "reason": r} for p, r in self.unreadable],
            "duplicates": [{"path": p, "same_as": o} for p, o in self.duplicates],
        }


def find_genre_root(root: str | os.PathLike[str]) -> Path:
    base = Path(root).expanduser()
    if not base.exists():
        raise DatasetError(f"{base}: no such folder")
    if not base.is_dir():
        raise DatasetError(f"{base}: not a folder")
    for sub in LAYOUTS:
        cand = base / sub if sub else base
        if cand.is_dir() and len(_genre_dirs(cand)) >= 2:
            return cand
    raise DatasetError(
        f"{base}: no genre folders found. Expected a folder with one subfolder of audio files "
        "per genre (for GTZAN: genres_original/blues/blues.00000.wav, ...)"
    )


def _genre_dirs(folder: Path) -> list[Path]:
    return sorted(
        d for d in folder.iterdir()
        if d.is_dir() and not d.name.startswith(".") and any(is_audio_path(f) for f in d.rglob("*"))
    )  # fmt: skip


def discover(root: str | os.PathLike[str], check: bool = True) -> DatasetReport:
    """Tracks per genre, with unreadable files and exact duplicates listed and skipped."""
    genre_root = find_genre_root(root)
    labels = [d.name for d in _genre_dirs(genre_root)]
    candidates = [
        Track(f, d.name)
        for d in (genre_root / lab for lab in labels)
        for f in sorted(d.rglob("*"))
        if is_audio_path(f) and f.is_file()
    ]
    report = DatasetReport(genre_root, labels, [])
    if not check:
        report.tracks = candidates
        return report
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        probes = list(pool.map(_probe, candidates))
    first_by_hash: dict[str, Path] = {}
    seconds: dict[str, float] = defaultdict(float)
    for track, (duration, digest, problem) in zip(candidates, probes, strict=True):
        if problem:
            report.unreadable.append((str(track.path), problem))
            continue
        if digest in first_by_hash:
            report.duplicates.append((str(track.path), str(first_by_hash[digest])))
            continue
        first_by_hash[digest] = track.path
        report.tracks.append(track)
        seconds[track.label] += duration
    report.seconds = dict(seconds)
    empty = [lab for lab, n in report.counts().items() if n == 0]
    if empty:
        raise DatasetError(f"{genre_root}: no readable tracks for genre(s): {', '.join(empty)}")
    return report


def _probe(track: Track) -> tuple[float, str, str]:
    """(duration, content hash, problem). Header check only; decoding happens when caching."""
    try:
        data = track.path.read_bytes()
    except OSError as e:
        return 0.0, "", f"cannot read ({e.strerror or e})"
    if not data:
        return 0.0, "", "file is empty"
    try:
        info = sf.info(track.path)
        duration = info.frames / info.samplerate
    except Exception as e:  # libsndfile's errors for corrupt files vary in type
        return 0.0, "", f"not readable audio ({str(e).split(': ', 1)[-1]})"
    if duration < 1.0:
        return 0.0, "", f"too short ({duration:.2f} s)"
    return duration, hashlib.blake2b(data, digest_size=16).hexdigest(), ""
