"""Find a genre dataset on disk and report what is in it.

Accepts GTZAN in its usual layouts (`genres/`, `genres_original/`, `Data/genres_original/`,
`.au` or `.wav`) and any folder of genre-named subfolders: labels are the folder names, sorted.
A folder name becomes a label in the model file, so it must pass the rule the model loader
applies (`models.schema.Label`) before any training starts; tracks are probed with the app's
own decoder (m4a, mp3, ... as well as what libsndfile reads); genre folders with no audio are
listed, not silently dropped.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from mgr_desktop.audio.decode import AudioDecodeError, open_audio
from mgr_desktop.audio.input_files import walk_folder
from mgr_desktop.safetext import escape, printable

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
    empty: list[str] = field(default_factory=list)  # genre folders without audio files

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
        for folder in self.empty:
            lines.append(f"  empty, skipped: {folder} (no audio files in this genre folder)")
        return "\n".join(printable(line) for line in lines)  # names are data

    def to_json(self) -> dict[str, object]:
        return {
            "root": str(self.root),
            "labels": self.labels,
            "tracks": self.counts(),
            "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
            "unreadable": [{"path": p, "reason": r} for p, r in self.unreadable],
            "duplicates": [{"path": p, "same_as": o} for p, o in self.duplicates],
            "empty": self.empty,
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
    return [d for d in _subfolders(folder) if walk_folder(d)[0]]


def _subfolders(folder: Path) -> list[Path]:
    """Non-hidden subfolders (or links to folders), sorted."""
    try:
        with os.scandir(folder) as it:
            return sorted(Path(e.path) for e in it if not e.name.startswith(".") and _is_dir(e))
    except OSError:
        return []


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def discover(root: str | os.PathLike[str], check: bool = True) -> DatasetReport:
    """Tracks per genre, with unreadable files, exact duplicates and empty genre folders listed
    and skipped. Raises DatasetError for a genre folder whose name cannot be a label."""
    genre_root = find_genre_root(root)
    found = {d.name: walk_folder(d) for d in _subfolders(genre_root)}
    labels = [name for name, (files, _) in found.items() if files]
    check_labels(genre_root, labels)
    candidates = [Track(f, lab) for lab in labels for f in sorted(found[lab][0])]
    report = DatasetReport(genre_root, labels, [])
    report.empty = [str(genre_root / name) for name, (files, _) in found.items() if not files]
    report.unreadable = [(p.path, p.reason) for _, problems in found.values() for p in problems]
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


def check_labels(genre_root: Path, labels: list[str]) -> None:
    """Refuse, before any training, folder names the model loader would refuse as labels
    (blank, control characters, bidi overrides, over 64 characters, bytes that are not UTF-8,
    more than 1,000 of them): a model trained on them could never be opened."""
    from pydantic import TypeAdapter, ValidationError

    from mgr_desktop.models.schema import MAX_LABELS, Label

    if len(labels) > MAX_LABELS:
        raise DatasetError(f"{genre_root}: {len(labels)} genre folders; a model holds at most "
                           f"{MAX_LABELS} genres")  # fmt: skip
    adapter: TypeAdapter[str] = TypeAdapter(Label)
    for label in labels:
        try:
            adapter.validate_python(label)
        except ValidationError as e:
            why = str(e.errors()[0]["msg"]).removeprefix("Value error, ")
            raise DatasetError(
                f"{escape(str(genre_root / label), 200)}: this genre folder's name cannot be a "
                f"genre label ({why.lower()}); rename the folder"
            ) from None


def _probe(track: Track) -> tuple[float, str, str]:
    """(duration, content hash, problem). The app's decoder opens the file (and refuses what is
    not a regular file) and states its length from the header; decoding happens when caching."""
    try:
        with open_audio(track.path, PROBE_RATE) as audio:
            duration = audio.estimated_duration
            if duration is None:  # no length in the header (some streams): measure it
                duration = sum(len(b) for b in audio.blocks()) / PROBE_RATE
        digest = _digest(track.path)
    except AudioDecodeError as e:
        return 0.0, "", e.reason
    except OSError as e:
        return 0.0, "", f"cannot read ({e.strerror or e})"
    if duration < 1.0:
        return 0.0, "", f"too short ({duration:.2f} s)"
    return duration, digest, ""


PROBE_RATE = 8000  # only where a header states no length: the cheapest rate to count at


def _digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()
