"""Write-then-rename, so a crash, a full disk or a signal never leaves a half-written file in place.

Temporary files are named '.mgr-<12 hex digits><suffix>' in their target's folder: short
whatever the target's name (a 255-byte name is legal; the temporary name must be legal too),
and recognisable, so that a later run can remove what a killed process left (`sweep`).

Two runs at once: each writer holds an flock on its temporary file for as long as the file
exists, and `sweep` removes only files it can lock itself. The kernel drops the locks of a
process that dies, SIGKILL included, so a lock taken means the writer is gone. Where the
filesystem has no flock (and on Windows) a file untouched for STALE_AFTER_S counts as left
over. A wrong guess costs nothing the user had: the target is replaced only by renaming the
temporary file over it, so a writer whose file was swept fails that one write and leaves its
target as it was.

Signals: `interrupt_on_signals` (the command line) turns SIGINT and SIGTERM into `Interrupted`
in the main thread, but not while a temporary file exists or `hold_signals` runs: the write
under way finishes (or removes its copy) first, then the run stops.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

fcntl: Any
try:
    import fcntl
except ImportError:  # Windows: no flock; leftovers are recognised by their age alone
    fcntl = None

TEMP_PREFIX = ".mgr-"
STALE_AFTER_S = 60.0  # without locks: a temporary file untouched this long is a leftover
_TEMP_NAME = re.compile(r"\.mgr-[0-9a-f]{12}(\.[a-z]+)\Z")
FileIdentity = tuple[str, int, int, int, int]  # real path, size, mtime_ns, inode, ctime_ns


def identity_of(real: str, st: os.stat_result) -> FileIdentity:
    """What says that a file's content is the one seen before: a rewrite changes the size or
    the mtime, and even one that restores both (or a same-size file renamed over it) changes
    the ctime or the inode, which no program can set back."""
    return real, st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns


def identity(path: str | os.PathLike[str]) -> FileIdentity | None:
    """The identity of the regular file at `path` (links followed), or None."""
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except (OSError, ValueError):
        return None
    return identity_of(real, st) if stat.S_ISREG(st.st_mode) else None


# -- signals -----------------------------------------------------------------------------------
class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM, raised in the main thread once no write is under way."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_held = 0  # temporary files and hold_signals blocks open now, in any thread
_held_lock = threading.Lock()
_pending: int | None = None  # a signal that came while _held


def _on_signal(signum: int, frame: FrameType | None) -> None:
    global _pending
    if _held:  # reads one int: no lock here, the main thread may hold it
        _pending = signum
        return
    raise Interrupted(signum)


@contextlib.contextmanager
def interrupt_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise Interrupted in the main thread for the length of the block, but
    only after the write under way: the previous handlers are restored after. In the main
    thread only (elsewhere signals cannot be handled); a no-op from another thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = [signal.SIGINT, *([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])]
    previous = {s: signal.signal(s, _on_signal) for s in signals}
    try:
        yield
    finally:
        for s, handler in previous.items():
            if handler is not None:
                signal.signal(s, handler)


def _hold() -> None:
    global _held
    with _held_lock:
        _held += 1


def _release() -> None:
    global _held, _pending
    with _held_lock:
        _held -= 1
        last = _held == 0
    if last and _pending is not None:
        signum, _pending = _pending, None
        if threading.current_thread() is threading.main_thread():
            raise Interrupted(signum)
        signal.raise_signal(signum)  # handled in the main thread, which holds nothing now


@contextlib.contextmanager
def hold_signals() -> Iterator[None]:
    """SIGINT and SIGTERM (with interrupt_on_signals) wait until the block ends: for a write
    and its bookkeeping (a line printed, a cache entry) that belong together."""
    _hold()
    try:
        yield
    finally:
        _release()


# -- temporary files ---------------------------------------------------------------------------
class TempFile:
    """A new empty file '.mgr-<random><suffix>' in `folder`, locked while it exists, with
    signals held (see the module's notes). `commit` renames it over its target; leaving the
    `with` block without committing removes it. Create with `TempFile.create`."""

    def __init__(self, path: str, fd: int | None) -> None:
        self.path = path
        self._fd = fd  # open, and flock'ed, for as long as the file is ours; None: no locks
        self._committed = False

    @classmethod
    def create(cls, folder: str | os.PathLike[str], suffix: str) -> TempFile:
        _hold()  # before the file exists: a signal must not come between creating and removing
        try:
            return cls._create(os.fspath(folder), suffix)
        except BaseException:
            _release()
            raise

    @classmethod
    def _create(cls, folder: str, suffix: str) -> TempFile:
        for _ in range(100):
            path = os.path.join(folder, f"{TEMP_PREFIX}{secrets.token_hex(6)}{suffix}")
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            if not _lock(fd):
                os.close(fd)  # nothing to hold it for (and Windows cannot rename an open file)
                return cls(path, None)
            if _same_file(fd, path):
                return cls(path, fd)
            os.close(fd)  # swept away between creating and locking it: take another name
        raise FileExistsError(f"no free temporary name in {folder}")

    def sync(self) -> None:
        """Flush the file's data and metadata to disk."""
        if self._fd is not None:
            os.fsync(self._fd)
            return
        with open(self.path, "rb+") as f:
            os.fsync(f.fileno())

    def commit(self, target: str | os.PathLike[str]) -> os.stat_result:
        """Rename over `target`; returns the stat of the file now there (taken from the file
        renamed, even if something else replaces `target` at once)."""
        os.replace(self.path, target)
        self._committed = True
        return os.fstat(self._fd) if self._fd is not None else os.stat(target)

    def __enter__(self) -> TempFile:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if not self._committed:
                with contextlib.suppress(OSError):  # unlocked later: a next run sweeps it
                    os.unlink(self.path)
            if self._fd is not None:
                os.close(self._fd)  # after the unlink: an unlocked file is fair game to sweep
        finally:
            _release()


def _lock(fd: int) -> bool:
    """Lock the file (waiting: a sweeper holds a lock only for an instant); False where the
    filesystem or platform has no flock."""
    if fcntl is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
        return False
    return True


def _same_file(fd: int, path: str) -> bool:
    try:
        st, mine = os.stat(path), os.fstat(fd)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def sweep(folder: str | os.PathLike[str], suffix: str) -> list[str]:
    """Remove the temporary files ('.mgr-<random><suffix>') that interrupted writes left in
    `folder`: those no writer holds (see the module's notes). Returns their paths."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        m = _TEMP_NAME.match(entry.name)
        if m and m.group(1) == suffix and _remove_if_left(entry.path):
            removed.append(entry.path)
    return removed


class SweepOnce:
    """`sweep` for the folder of each file written, the first time that folder comes up: a
    run that writes into many folders clears each before its first write there."""

    def __init__(self, sweep_folder: Callable[[str], list[str]]) -> None:
        self._sweep, self._seen = sweep_folder, set[str]()

    def __call__(self, path: str) -> tuple[str, list[str]]:
        """(the file's folder, the leftovers removed from it now)."""
        folder = os.path.dirname(os.path.realpath(path))
        if folder in self._seen:
            return folder, []
        self._seen.add(folder)
        return folder, self._sweep(folder)


def _remove_if_left(path: str) -> bool:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)  # never a link's target, never blocked on a FIFO
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return False
        held = _held_by_writer(fd)
        if held is None:  # no locks here: a file untouched for a while is left over
            os.close(fd)
            fd = -1
            held = time.time() - st.st_mtime < STALE_AFTER_S
        if held:
            return False
        os.unlink(path)  # with the lock held: a writer creating it now takes another name
        return True
    except OSError:
        return False
    finally:
        if fd >= 0:
            os.close(fd)


def _held_by_writer(fd: int) -> bool | None:
    """Whether a writer holds the file's lock; None where there are no locks."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    return False


# -- whole files ---------------------------------------------------------------------------------
def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, durable: bool = True) -> None:
    """durable=False skips fsync: for caches, where a lost entry is only recomputed."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with TempFile.create(target.parent, ".tmp") as tmp:
        with open(tmp.path, "wb") as f:
            f.write(data)
        if durable:
            tmp.sync()
        tmp.commit(target)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))
