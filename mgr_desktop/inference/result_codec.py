"""A TrackResult as two small blobs for the result cache, and back."""

from __future__ import annotations

import json
import zlib

import numpy as np

from mgr_desktop.inference.results import Segment, TrackResult


def encode(result: TrackResult) -> tuple[bytes, bytes]:
    """(zlib'd JSON of the scalar fields, segment arrays). Segment times and confidences are
    float64 (exact); segment probabilities float16 (what a timeline needs, a quarter the size)."""
    seg = result.segments
    genres = sorted({s.genre for s in seg if s.genre is not None})
    index = {g: i for i, g in enumerate(genres)}
    k = len(seg[0].probabilities) if seg else 0
    doc = {
        "genre": result.genre,
        "confidence": result.confidence,
        "probabilities": result.probabilities,
        "duration": result.duration,
        "note": result.note,
        "tags": result.tags,
        "outside": result.outside,
        "outside_probability": result.outside_probability,
        "sampled": result.sampled,
        "n": len(seg),
        "k": k,
        "seg_genres": genres,
    }
    blob = b"".join(
        (
            np.array([s.start for s in seg], "<f8").tobytes(),
            np.array([s.end for s in seg], "<f8").tobytes(),
            np.array([s.confidence for s in seg], "<f8").tobytes(),
            np.array([_genre_code(s, index) for s in seg], "<i2").tobytes(),
            np.array([s.probabilities for s in seg], "<f2").reshape(len(seg), k).tobytes(),
        )
    )
    return zlib.compress(json.dumps(doc, separators=(",", ":")).encode(), 6), blob


NO_SIGNAL, OUTSIDE = -1, -2  # segment genre codes besides the genres' indices


def _genre_code(s: Segment, index: dict[str, int]) -> int:
    if s.genre is not None:
        return index[s.genre]
    return OUTSIDE if s.outside else NO_SIGNAL


def decode(path: str, doc_bytes: bytes, blob: bytes) -> TrackResult:
    doc = json.loads(zlib.decompress(doc_bytes))
    n, k, genres = int(doc["n"]), int(doc["k"]), doc["seg_genres"]
    pos = 0

    def take(dtype: str, count: int) -> np.ndarray:
        nonlocal pos
        arr = np.frombuffer(blob, dtype, count, pos)
        pos += arr.nbytes
        return arr

    starts, ends, confs = take("<f8", n), take("<f8", n), take("<f8", n)
    gidx = take("<i2", n)
    probs = take("<f2", n * k).astype(np.float32).reshape(n, k)
    if pos != len(blob):
        raise ValueError("segment data has the wrong length")
    segments = [
        Segment(float(starts[i]), float(ends[i]), genres[gidx[i]] if gidx[i] >= 0 else None,
                float(confs[i]), probs[i], outside=bool(gidx[i] == OUTSIDE))
        for i in range(n)
    ]  # fmt: skip
    return TrackResult(
        path=path,
        genre=doc["genre"],
        confidence=float(doc["confidence"]),
        probabilities={str(a): float(b) for a, b in doc["probabilities"].items()},
        segments=segments,
        duration=float(doc["duration"]),
        note=doc["note"],
        tags={str(a): float(b) for a, b in doc["tags"].items()},
        outside=bool(doc.get("outside", False)),
        outside_probability=float(doc.get("outside_probability", 0.0)),
        sampled=bool(doc["sampled"]),
    )
