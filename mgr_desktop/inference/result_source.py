"""Which file each result was made from: the file's key just before it was decoded (or the
key its cached entry was stored under), kept beside the result rather than in it, so that
tagging writes a verdict only into that same file (result_cache.cached_classify notes it)."""

from __future__ import annotations

import weakref

from mgr_desktop.atomic import FileIdentity as FileKey
from mgr_desktop.inference.results import TrackResult

# The key of the file each live result was made from, by the result object (TrackResult is a
# frozen dataclass with dict fields: not hashable, so by id, dropped when the result dies).
_sources: dict[int, tuple[weakref.ref[TrackResult], FileKey]] = {}


def note_source(result: TrackResult, key: FileKey | None) -> None:
    if key is None:
        return
    rid = id(result)
    _sources[rid] = (weakref.ref(result, lambda _: _sources.pop(rid, None)), key)


def source_key(result: TrackResult) -> FileKey | None:
    """The key of the file as it was when `result` was made from it (before decoding, or as
    cached), for results from cached_classify; None for any other result."""
    entry = _sources.get(id(result))
    return entry[1] if entry is not None and entry[0]() is result else None
