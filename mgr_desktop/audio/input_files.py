"""Turn what a user named (files, folders) into a list of audio files plus per-path problems.

A library is a stranger's tree: it can be deeper than Python's recursion limit, hold folders
nobody may read, link folders into one another, or name files with bytes that are not UTF-8.
Folders are walked with an explicit stack (never recursion), each folder once by its device
and inode (a symbolic link to a folder is followed, a loop is not), and a folder that cannot
be read is a problem of its own, so nothing is left out without a word.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mgr_desktop.audio.decode import is_audio_path

# Names that mean "standard input" (the command line reads a pipe there; see spool_stdin).
STDIN_NAMES = frozenset({"-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"})
MAX_STDIN_BYTES = 2 << 30  # 2 GiB: a two-hour CD-quality WAV is 1.3 GB


@dataclass(frozen=True)
class InputProblem:
    path: str
    reason: str


def expand_inputs(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[InputProblem]]:
    """Files named directly are kept whatever their extension or kind (decoding judges them by
    their content, and refuses what is not a regular file); folders are searched, in a stable
    sorted order, for the extensions of every container the decoder reads
    (decode.AUDIO_EXTENSIONS: wav, flac, ogg, mp3, m4a, wma, webm, mka, mp4, mov, ac3, wv, ...)."""
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
        if os.fspath(raw) in STDIN_NAMES:
            add(p)
            continue
        try:
            is_dir = stat.S_ISDIR(os.stat(p).st_mode)
        except OSError as e:
            if p.is_symlink():
                add(p)  # a dangling link is reported by the decoder with its reason
            else:
                problems.append(InputProblem(str(p), _missing(e)))
            continue
        if not is_dir:
            add(p)
            continue
        found, unreadable = walk_folder(p)
        problems.extend(unreadable)
        if not found and not unreadable:
            problems.append(InputProblem(str(p), "folder contains no audio files"))
        for q in found:
            add(q)
    return files, problems


def walk_folder(top: Path) -> tuple[list[Path], list[InputProblem]]:
    """The audio files under `top` (sorted, case-insensitively) and one problem per folder
    that could not be read. Depth first with an explicit stack; a folder is read once, when
    it is reached (so a link into a folder already read, or up the tree, adds nothing)."""
    found: list[Path] = []
    problems: list[InputProblem] = []
    try:
        st = os.stat(top)
    except OSError as e:
        return [], [InputProblem(str(top), _folder_error(e))]
    visited: set[tuple[int, int]] = set()
    stack = [(top, (st.st_dev, st.st_ino))]
    while stack:
        folder, identity = stack.pop()
        if identity in visited:
            continue
        visited.add(identity)
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name, reverse=True)  # popped in order
        except OSError as e:
            problems.append(InputProblem(str(folder), _folder_error(e)))
            continue
        for entry in entries:
            sub = _folder_identity(entry)
            if sub is not None:
                if sub not in visited:
                    stack.append((Path(entry.path), sub))
            elif is_audio_path(Path(entry.name)):
                found.append(Path(entry.path))
    found.sort(key=lambda q: str(q).lower())
    return found, problems


def _folder_identity(entry: os.DirEntry[str]) -> tuple[int, int] | None:
    """(device, inode) of the folder this entry is or links to; None for anything else (a
    file, a dangling or unreadable link: such a name is judged by the decoder)."""
    try:
        if not entry.is_dir():  # follows a symbolic link
            return None
        st = entry.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _folder_error(e: OSError) -> str:
    if isinstance(e, PermissionError):
        return "cannot read folder: permission denied"
    return f"cannot read folder: {_strerror(e)}"


def _missing(e: OSError) -> str:
    if isinstance(e, FileNotFoundError):
        return "no such file or folder"
    if isinstance(e, PermissionError):
        return "permission denied (a folder on its path cannot be searched)"
    return f"cannot read: {_strerror(e)}"


def _strerror(e: OSError) -> str:
    return (e.strerror or str(e)).lower()


def is_stdin(path: str | os.PathLike[str]) -> bool:
    return os.fspath(path) in STDIN_NAMES


@contextlib.contextmanager
def spool_stdin(limit: int = MAX_STDIN_BYTES) -> Iterator[Path]:
    """Standard input copied whole into a temporary file, deleted afterwards.

    A pipe can be read only once, from the start: the decoders look at a file's first bytes to
    pick a reader and then open it again, which on a pipe loses what the first look consumed.
    So the command line reads a pipe in full first. Raises OSError with a reason when standard
    input is a terminal or holds more than `limit` bytes."""
    if sys.stdin is None or sys.stdin.isatty():
        raise OSError("standard input is a terminal: pipe the audio into it")
    source = sys.stdin.buffer
    fd, name = tempfile.mkstemp(prefix="mgr-desktop-stdin-")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            copied = 0
            while block := source.read(1 << 20):
                copied += len(block)
                if copied > limit:
                    raise OSError(f"standard input holds more than {limit >> 20} MiB of data; "
                                  "save it to a file first")  # fmt: skip
                out.write(block)
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
