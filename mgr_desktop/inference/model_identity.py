"""What identifies a model's verdicts, for the result cache: the model file's bytes, the hop
between segments, the arithmetic, the sampling and this program's version."""

from __future__ import annotations

import hashlib
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

from mgr_desktop import __version__

if TYPE_CHECKING:
    from mgr_desktop.inference.engine import Engine

# Each engine's file digest, hashed once per engine and file version; weakly keyed, so an
# engine's entry goes when the engine does.
_digests: weakref.WeakKeyDictionary[Any, tuple[tuple[str, int, int], str]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def model_file_digest(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model_identity(engine: Engine) -> str:
    """The model file's bytes (hashed), the hop between analysis windows, the arithmetic
    (float32, bfloat16 or int8), the sampling and the program version (which fixes how
    verdicts are made)."""
    path = os.fspath(engine.path)
    st = os.stat(path)
    stamp = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    with _lock:
        known = _digests.get(engine)
    if known is None or known[0] != stamp:
        known = (stamp, model_file_digest(path))
        with _lock:
            _digests[engine] = known
    hop, precision = float(engine.hop_seconds), engine.precision
    sampled = int(getattr(engine, "sample_segments", 0))  # a verdict from N spread segments
    return f"{known[1]}:hop={hop!r}:{precision}:n{sampled}:v{__version__}"
