"""Turn what a user named (files, folders) into a list of audio files plus per-path problems."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mgr_desktop.audio.decode import is_audio_path


@dataclass(frozen=True)
class InputProblem:
    path: str
    reason: str


def expand_inputs(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[InputProblem]]:
    """Files named directly are kept whatever their extension (decoding judges them by their
    content); folders are searched recursively, in a stable sorted order, for the extensions
    of every container the decoder reads (decode.AUDIO_EXTENSIONS: wav, flac, ogg, mp3, m4a,
    wma, webm, mka, mp4, mov, ac3, wv, ...)."""
    files: list[Path] = []
    problems: list[InputProblem] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        key = p.absolute()
        if key not in seen:
            seen.add(key)
            files.append(p)

    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(
                (q for q in p.rglob("*") if is_audio_path(q) and (q.is_file() or q.is_symlink())),
                key=lambda q: str(q).lower(),
            )
            if not found:
                problems.append(InputProblem(str(p), "folder contains no audio files"))
            for q in found:
                add(q)
        elif p.exists() or p.is_symlink():
            add(p)  # a dangling link is reported by the decoder with its reason
        else:
            problems.append(InputProblem(str(p), "no such file or folder"))
    return files, problems
