"""Verdicts remembered between runs: an unchanged file with the same model is not decoded again.

A result is keyed by the file (resolved path, size, mtime_ns, inode, ctime_ns: atomic.identity)
and by the model (a hash of the model file's bytes, the hop between segments, the precision,
and this program's version); it is stored compactly (`result_codec`). The file key is what stat
says rather than a content hash: hashing would read every byte of every file on each run,
which costs as much I/O as decoding an unchanged library, while any ordinary write changes the
size or mtime, and a rewrite that restores both (or a same-size file renamed over the old one)
still changes the ctime or the inode. The price: a file whose inode or ctime changes without
new content (a FAT/exFAT stick mounted again, a chmod, a new hard link) is classified again.

Each result is keyed by the file as it was just before it was decoded (`source_key`), and
`--write-tags` writes a verdict only into that same file: a file replaced during a run is
neither tagged nor cached with a verdict that is not its own.

The cache is a small SQLite file in the user's cache folder. It is only a cache: a corrupt,
locked or unwritable database logs one warning and classification goes on without it (one
busy wait for a database another program holds locked, not one a file).
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from mgr_desktop.atomic import FileIdentity, identity
from mgr_desktop.inference.model_identity import model_identity
from mgr_desktop.inference.result_codec import decode, encode
from mgr_desktop.inference.result_source import note_source
from mgr_desktop.inference.results import FileFailure, TrackResult
from mgr_desktop.safetext import name_bytes

if TYPE_CHECKING:
    from mgr_desktop.inference.decode_pool import DecodePool
    from mgr_desktop.inference.engine import Engine

log = logging.getLogger(__name__)

# Bump when the stored layout or the meaning of a result changes (4: results say whether
# they were sampled).
SCHEMA = 4
BUSY_TIMEOUT_S = 2.0
KEEP_MODELS = 4  # results are kept for the models used most recently; older ones are dropped
FileKey = FileIdentity  # resolved path, size, mtime_ns, inode, ctime_ns


def default_path() -> Path:
    from mgr_desktop.paths import cache_dir

    return cache_dir() / "results.sqlite"


def file_key(path: str | os.PathLike[str]) -> FileKey | None:
    """The file's identity, or None when it cannot be read (then it is never cached)."""
    return identity(path)


def stored_path(real: str) -> str:
    """How the database keeps a resolved path: as text, and a name that is not UTF-8 (which
    SQLite's text cannot hold) as its bytes in base64 after a prefix no path begins with."""
    raw = name_bytes(real)
    return real if raw is None else "bytes:" + base64.b64encode(raw).decode()


def model_key(engine: Engine) -> str:
    """The model's identity (model_identity.py) and this database's layout."""
    return f"{model_identity(engine)}:s{SCHEMA}"


# -- the database ----------------------------------------------------------------------------
_CREATE = (
    """CREATE TABLE IF NOT EXISTS results (
    path TEXT NOT NULL,
    model TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    doc BLOB NOT NULL,
    segments BLOB NOT NULL,
    PRIMARY KEY (path, model)
) WITHOUT ROWID""",
    "CREATE TABLE IF NOT EXISTS models (model TEXT PRIMARY KEY, used INTEGER NOT NULL)",
)
_STAMP = "size, mtime_ns, ino, ctime_ns"  # the file key's columns after the path
# SQLite's primary result codes (the names are in the sqlite3 module only from Python 3.11)
SQLITE_BUSY, SQLITE_LOCKED, SQLITE_CORRUPT, SQLITE_NOTADB = 5, 6, 11, 26


def _error_code(e: sqlite3.Error) -> int | None:
    code = getattr(e, "sqlite_errorcode", None)
    if code is not None:
        return int(code) & 0xFF  # extended codes keep the primary code in the low byte
    text = str(e).lower()
    if "not a database" in text:
        return SQLITE_NOTADB
    if "malformed" in text:
        return SQLITE_CORRUPT
    if "locked" in text or "busy" in text:
        return SQLITE_BUSY
    return None


def _recreate(conn: sqlite3.Connection) -> None:
    """Start the tables afresh when they are of another layout (another program version): it
    is only a cache. In one transaction, so two runs starting at once do it once."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA:
            conn.execute("DROP TABLE IF EXISTS results")
            conn.execute("DROP TABLE IF EXISTS models")
        for statement in _CREATE:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA}")
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise


class ResultCache:
    """One SQLite connection shared under a lock: safe from several threads, one writer.

    Every database error is caught here. A corrupt file is replaced by an empty cache; any
    other error (locked by another process, read-only folder, full disk) logs one warning and
    turns the cache off for the rest of this run."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._warned = False
        self._open()

    @property
    def enabled(self) -> bool:
        return self._conn is not None

    def _open(self, retry: bool = True) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None
            )
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")  # a lost entry is only recomputed
                if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA:
                    _recreate(conn)
                for statement in _CREATE:  # no-ops unless a table went missing
                    conn.execute(statement)
                conn.execute("SELECT count(*) FROM results LIMIT 1").fetchone()
            except BaseException:
                conn.close()
                raise
        except sqlite3.Error as e:
            if retry and _error_code(e) in (SQLITE_CORRUPT, SQLITE_NOTADB):
                self._warn(f"the result cache {self.path} is damaged ({e}); starting a new one")
                if self._remove_files():
                    self._warned = False  # a fresh cache may warn again about a new problem
                    self._open(retry=False)
                    return
            self._warn(f"result cache disabled: {self.path}: {e}")
        except OSError as e:
            self._warn(f"result cache disabled: {self.path}: {e.strerror or e}")
        else:
            self._conn = conn

    def _remove_files(self) -> bool:
        try:
            for suffix in ("", "-wal", "-shm", "-journal"):
                p = Path(f"{self.path}{suffix}")
                if p.exists():
                    p.unlink()
        except OSError as e:
            self._warn(f"result cache disabled: cannot remove {self.path}: {e.strerror or e}")
            return False
        return True

    def _warn(self, message: str) -> None:
        if not self._warned:
            log.warning("%s", message)
            self._warned = True
        else:
            log.debug("%s", message)

    def _failed(self, e: sqlite3.Error, doing: str) -> None:
        """Turn the cache off for the rest of the run. Even "busy": each later file would wait
        the whole busy timeout in turn for a lock another program may hold for minutes."""
        if _error_code(e) in (SQLITE_BUSY, SQLITE_LOCKED):
            self._warn(
                f"result cache busy (another program is using it): not used for the rest of "
                f"this run ({doing} gave up after {BUSY_TIMEOUT_S:g} s)"
            )
        else:
            self._warn(f"result cache disabled after an error while {doing}: {e}")
        self._close_locked()  # called with the lock held

    def get(
        self, model: str, path: str | os.PathLike[str], key: FileKey | None = None
    ) -> TrackResult | None:
        """The stored result for this file and model, named `path`; None on a miss."""
        key = key or file_key(path)
        if key is None or self._conn is None:
            return None
        with self._lock:
            if self._conn is None:
                return None
            try:
                row = self._conn.execute(
                    f"SELECT {_STAMP}, doc, segments FROM results WHERE path=? AND model=?",
                    (stored_path(key[0]), model),
                ).fetchone()
            except sqlite3.Error as e:
                self._failed(e, "reading")
                return None
        if row is None or tuple(row[:4]) != key[1:]:
            return None
        try:
            return decode(os.fspath(path), row[4], row[5])
        except Exception as e:  # a damaged entry is a miss; it is overwritten after the run
            log.debug("unreadable cache entry for %s: %s", key[0], e)
            return None

    def contains(self, model: str, key: FileKey) -> bool:
        if self._conn is None:
            return False
        with self._lock:
            if self._conn is None:
                return False
            try:
                row = self._conn.execute(
                    f"SELECT {_STAMP} FROM results WHERE path=? AND model=?",
                    (stored_path(key[0]), model),
                ).fetchone()
            except sqlite3.Error as e:
                self._failed(e, "reading")
                return False
        return row is not None and tuple(row) == key[1:]

    def use_model(self, model: str) -> None:
        """Note that `model` is in use, and drop the results of all but the KEEP_MODELS models
        used most recently, so that trying many models does not grow the file without end."""
        if self._conn is None:
            return
        with self._lock:
            if self._conn is None:
                return
            try:
                self._conn.execute(  # `used` counts up: the latest use has the highest number
                    "INSERT OR REPLACE INTO models (model, used)"
                    " VALUES (?, (SELECT COALESCE(MAX(used), 0) + 1 FROM models))",
                    (model,),
                )
                old = [
                    m
                    for (m,) in self._conn.execute(
                        "SELECT model FROM models ORDER BY used DESC LIMIT -1 OFFSET ?",
                        (KEEP_MODELS,),
                    )
                ]
                for m in old:
                    self._conn.execute("DELETE FROM results WHERE model=?", (m,))
                    self._conn.execute("DELETE FROM models WHERE model=?", (m,))
            except sqlite3.Error as e:
                self._failed(e, "pruning")

    def put(self, model: str, result: TrackResult, key: FileKey | None = None) -> None:
        """Remember a result. `key` should be taken before the file was read, so a file that
        changes while it is classified is classified again next time."""
        key = key or file_key(result.path)
        if key is None or self._conn is None:
            return
        try:
            doc, blob = encode(result)
        except Exception as e:  # an odd result is simply not cached
            log.debug("not caching %s: %s", result.path, e)
            return
        self._write(
            f"INSERT OR REPLACE INTO results (path, model, {_STAMP}, doc, segments)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (stored_path(key[0]), model, *key[1:], doc, blob),
        )

    def rekey(self, old: FileKey, new: FileKey) -> None:
        """Every model's entry for the file `old` again under `new`: the same file after its tags
        were rewritten (tag_file's identity), so the same audio and the same verdicts."""
        if self._conn is not None and old[0] == new[0]:
            self._write(
                f"UPDATE results SET ({_STAMP}) = (?, ?, ?, ?)"
                f" WHERE path = ? AND ({_STAMP}) = (?, ?, ?, ?)",
                (*new[1:], stored_path(old[0]), *old[1:]),
            )

    def _write(self, statement: str, values: tuple[object, ...]) -> None:
        """One statement under the lock; a database error turns the cache off (`_failed`)."""
        with self._lock:
            if self._conn is None:
                return
            try:
                self._conn.execute(statement, values)
            except sqlite3.Error as e:
                self._failed(e, "writing")

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def __enter__(self) -> ResultCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def cached_classify(
    engine: Engine, paths: Iterable[str | os.PathLike[str]], cache: ResultCache | None,
    decoders: DecodePool | None = None,
) -> Iterator[TrackResult | FileFailure]:  # fmt: skip
    """`engine.classify_files` with the cache in front: results in input order, hits at once,
    only the misses decoded (in one stream). Failures are never cached. Each result's
    `source_key` is the file's key just before it was decoded (or its cached entry's key)."""
    paths = list(paths)
    model = _model_key_or_none(engine) if cache is not None and cache.enabled else None
    if cache is None or model is None:
        yield from _decoded(engine, paths, None, "", decoders)
        return
    cache.use_model(model)
    keys = [file_key(p) for p in paths]
    hit = [k is not None and cache.contains(model, k) for k in keys]
    fresh = _decoded(engine, [p for p, h in zip(paths, hit, strict=True) if not h], cache,
                     model, decoders)  # fmt: skip
    for p, key, h in zip(paths, keys, hit, strict=True):
        result = cache.get(model, p, key) if h else None
        if result is not None:
            note_source(result, key)
        elif h:  # the entry went away after the check: classify this one alone
            result = next(_decoded(engine, [p], cache, model))
        else:
            result = next(fresh)
        yield result


def _decoded(
    engine: Engine, paths: list[str | os.PathLike[str]], cache: ResultCache | None, model: str,
    decoders: DecodePool | None = None,
) -> Iterator[TrackResult | FileFailure]:  # fmt: skip
    """engine.classify_files, each file's key taken as the engine takes the file (right before
    decoding it): the result is stored, and tagged, under the identity of what was decoded."""
    keys: list[FileKey | None] = []

    def keyed() -> Iterator[str | os.PathLike[str]]:
        for p in paths:
            keys.append(file_key(p))
            yield p

    for i, result in enumerate(engine.classify_files(keyed(), decoders=decoders)):
        key = keys[i]  # the engine took path i before it could give its result
        if isinstance(result, TrackResult) and key is not None:
            note_source(result, key)
            if cache is not None:
                cache.put(model, result, key)
        yield result


def _model_key_or_none(engine: Engine) -> str | None:
    try:
        return model_key(engine)
    except OSError as e:  # the model file went away or cannot be read: classify uncached
        log.warning("result cache not used: cannot read the model file: %s", e.strerror or e)
        return None
