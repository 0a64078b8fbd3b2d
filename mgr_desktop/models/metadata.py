"""Model-file metadata, readable without torch (the model picker lists files at start-up).

A model file is safetensors with a JSON document under one key of its header, and it is input
from a stranger. Only regular files are opened (a FIFO or a device would block), their size and
header are bounded, the magic bytes are checked before anything parses the file (a pickle is
refused without being executed), and the metadata is validated against `schema.py` before
anything is allocated.
"""

from __future__ import annotations

import errno
import math
import os
import stat
import struct
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from safetensors import safe_open

from mgr_desktop import __version__
from mgr_desktop.config import FeatureConfig
from mgr_desktop.errors import FileError
from mgr_desktop.models.schema import (
    FORMAT,
    FORMAT_VERSION,
    MetadataError,
    load_json,
    validate_metadata,
)
from mgr_desktop.safetext import escape, printable

META_KEY = "mgr_desktop"
MAX_FILE_BYTES = 2 * 1024**3  # the largest model we ship is ~100 MB
MAX_HEADER = 16 * 1024 * 1024  # a model's header: names, shapes, offsets and the metadata
MAX_STATE_HEADER = 100 * 1024 * 1024  # training state keeps optimizer state in JSON too
# Tensor types model files may contain; each architecture's exact ones are checked on load.
MODEL_DTYPES = frozenset({"F32", "I64"})


class CheckpointError(FileError):
    """A model file that cannot be used: one line, whatever the file's name or contents."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(path, reason)
        self.args = (f"{printable(self.path)}: {printable(reason)}",)


@dataclass(frozen=True)
class ModelInfo:
    """Everything a checkpoint says about itself besides the weights."""

    arch: str
    labels: tuple[str, ...]
    features: FeatureConfig
    training: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    created: str = ""
    app_version: str = __version__
    # Softmax temperature fitted on validation (1.0: uncalibrated); applied to every output.
    temperature: float = 1.0
    # Names of the backbone's music tags, for models that keep a tag head (musicnn MSD).
    tags: tuple[str, ...] = ()
    # The label that means "none of its genres" ('' for a closed-set model), and the
    # probability of it at or above which a track gets no genre (verdict.py reads both).
    outside: str = ""
    outside_at: float = 0.5

    @property
    def genres(self) -> tuple[str, ...]:
        """The labels that are genres: all but the outside label."""
        return tuple(lab for lab in self.labels if lab != self.outside)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "arch": self.arch,
            "labels": list(self.labels),
            "features": self.features.to_dict(),
            "training": _finite(self.training),
            "name": self.name,
            "created": self.created or datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "app_version": self.app_version,
            "temperature": self.temperature,
            "tags": list(self.tags),
            "outside": self.outside,
            "outside_at": self.outside_at,
        }


def _finite(value: Any) -> Any:
    """`value` with NaN and infinities replaced by null: strict JSON, readable by `load_json`."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def check_model_file(p: Path, max_header: int = MAX_HEADER) -> int:
    """Refuse anything but a bounded regular safetensors file; return its size.

    `stat` before `open`, and a non-blocking open re-checked with `fstat`, so a FIFO, socket
    or device named like a model never blocks the caller. Pickles are named as such.
    """
    try:
        st = os.stat(p)
    except FileNotFoundError:
        if os.path.islink(p):
            raise CheckpointError(p, "broken symbolic link (its target does not exist)") from None
        raise CheckpointError(p, "no such model file") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise CheckpointError(p, "symbolic link loop") from None
        raise CheckpointError(p, f"cannot read model file ({e.strerror or e})") from None
    except ValueError as e:  # e.g. a NUL in the name
        raise CheckpointError(p, f"invalid file name ({e})") from None
    _check_regular(p, st)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(p, flags)
    except OSError as e:
        raise CheckpointError(p, f"cannot read model file ({e.strerror or e})") from None
    try:
        st = os.fstat(fd)
        _check_regular(p, st)  # replaced between stat and open
        head = os.read(fd, 9)
    except OSError as e:
        raise CheckpointError(p, f"cannot read model file ({e.strerror or e})") from None
    finally:
        os.close(fd)
    if len(head) == 9 and head[8:9] == b"{":
        (header_len,) = struct.unpack("<Q", head[:8])
        if 8 + header_len > st.st_size:
            raise CheckpointError(p, "corrupt safetensors file (header longer than the file)")
        if header_len > max_header:
            raise CheckpointError(
                p, f"safetensors header of {header_len / 1e6:.0f} MB is too large for a model"
            )
        return st.st_size
    # Not safetensors; say what it is when it is a pickle, the format people most often try.
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80" or head.startswith(b"(dp"):
        raise CheckpointError(
            p,
            "refused: this is a pickle-based PyTorch checkpoint, which can run arbitrary code "
            "when loaded; mgr-desktop only loads .safetensors model files",
        )
    raise CheckpointError(p, "not a safetensors model file")


def _check_regular(p: Path, st: os.stat_result) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise CheckpointError(p, "is a folder, not a model file")
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode)
            else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
            else "a socket" if stat.S_ISSOCK(st.st_mode)
            else "not a regular file"
        )  # fmt: skip
        raise CheckpointError(p, f"refused: {kind}, not a regular model file")
    if st.st_size > MAX_FILE_BYTES:
        raise CheckpointError(
            p, f"{st.st_size / 1e9:.1f} GB is too large for a model file (at most 2 GB)"
        )


@dataclass(frozen=True)
class Header:
    """What a safetensors header says, read without loading a tensor."""

    meta: str | None  # the JSON text under META_KEY
    tensors: dict[str, tuple[str, tuple[int, ...]]]  # name -> (dtype, shape)


def read_header(p: Path, max_header: int = MAX_HEADER) -> Header:
    check_model_file(p, max_header)
    try:
        with safe_open(p, framework="numpy") as f:
            raw = (f.metadata() or {}).get(META_KEY)
            tensors = {}
            for k in f.keys():  # noqa: SIM118 (not a dict)
                s = f.get_slice(k)
                tensors[k] = (str(s.get_dtype()), tuple(int(d) for d in s.get_shape()))
    except CheckpointError:
        raise
    except Exception as e:  # safetensors raises its own SafetensorError and OSError
        raise CheckpointError(p, f"corrupt safetensors file ({escape(str(e))})") from None
    return Header(raw, tensors)


def parse_info(p: Path, meta: Any) -> ModelInfo:
    """Validate a metadata document (JSON text, or already parsed) into a ModelInfo."""
    try:
        if isinstance(meta, str):
            meta = load_json(meta)
        doc = validate_metadata(meta)
        features = doc.features.to_config()
    except (MetadataError, ValueError) as e:
        raise CheckpointError(p, str(e)) from None
    return ModelInfo(
        arch=doc.arch,
        labels=tuple(doc.labels),
        features=features,
        training=dict(meta.get("training") or {}),
        name=doc.name,
        created=doc.created,
        app_version=doc.app_version,
        temperature=float(doc.temperature),
        tags=tuple(doc.tags),
        outside=doc.outside,
        outside_at=float(doc.outside_at),
    )


def read_info_and_header(path: str | os.PathLike[str]) -> tuple[ModelInfo, Header]:
    p = Path(path)
    header = read_header(p)
    if header.meta is None:
        raise CheckpointError(p, "a safetensors file, but not an mgr-desktop model (no metadata)")
    info = parse_info(p, header.meta)
    for name, (dtype, shape) in header.tensors.items():
        if dtype not in MODEL_DTYPES:
            raise CheckpointError(
                p, f"tensor {escape(name, 60)} is stored as {escape(dtype, 10)}; "
                f"model weights are F32 (and I64 counters)"
            )  # fmt: skip
        if len(shape) > 8:
            raise CheckpointError(p, f"tensor {escape(name, 60)} has {len(shape)} dimensions")
    return info, header


def read_info(path: str | os.PathLike[str]) -> ModelInfo:
    """Metadata only (for pickers and listings); still validated, never more than the header."""
    p = Path(path)
    try:
        return read_info_and_header(p)[0]
    except CheckpointError:
        raise
    except Exception as e:  # never a traceback for a file from a stranger
        raise CheckpointError(
            p, f"unusable model file ({type(e).__name__}: {escape(str(e))})"
        ) from None
