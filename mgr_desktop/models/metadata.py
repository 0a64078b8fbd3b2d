"""Model-file metadata, readable without torch (the model picker lists files at start-up).

A model file is safetensors with a JSON document under one key of its header. The magic bytes
are checked before anything parses the file, so a pickle is refused without being executed.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from safetensors import safe_open

from mgr_desktop import __version__
from mgr_desktop.config import FeatureConfig
from mgr_desktop.errors import FileError
from mgr_desktop.models.registry import ARCHITECTURES

FORMAT = "mgr-desktop-model"
FORMAT_VERSION = 1
META_KEY = "mgr_desktop"
MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit


class CheckpointError(FileError):
    """A model file that cannot be used."""


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

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "arch": self.arch,
            "labels": list(self.labels),
            "features": self.features.to_dict(),
            "training": self.training,
            "name": self.name,
            "created": self.created or datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "app_version": self.app_version,
        }


def _check_is_safetensors(p: Path) -> None:
    try:
        size = p.stat().st_size
        with p.open("rb") as f:
            head = f.read(9)
    except FileNotFoundError:
        raise CheckpointError(p, "no such model file") from None
    except IsADirectoryError:
        raise CheckpointError(p, "is a folder, not a model file") from None
    except OSError as e:
        raise CheckpointError(p, f"cannot read model file ({e.strerror or e})") from None
    if len(head) == 9:
        (header_len,) = struct.unpack("<Q", head[:8])
        if head[8:9] == b"{" and header_len <= MAX_HEADER and 8 + header_len <= size:
            return
    # Not safetensors; say what it is when it is a pickle, the format people most often try.
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80" or head.startswith(b"(dp"):
        raise CheckpointError(
            p,
            "refused: this is a pickle-based PyTorch checkpoint, which can run arbitrary code "
            "when loaded; mgr-desktop only loads .safetensors model files",
        )
    raise CheckpointError(p, "not a safetensors model file")


def parse_info(p: Path, meta: dict[str, Any]) -> ModelInfo:
    if meta.get("format") != FORMAT:
        raise CheckpointError(p, "a safetensors file, but not an mgr-desktop model")
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(p, f"invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            p, f"written by a newer mgr-desktop (format {version}); please update the app"
        )
    arch = meta.get("arch")
    if arch not in ARCHITECTURES:
        raise CheckpointError(p, f"unknown architecture {arch!r}")
    labels = meta.get("labels")
    if (
        not isinstance(labels, list)
        or len(labels) < 2
        or not all(isinstance(x, str) and x.strip() for x in labels)
        or len(set(labels)) != len(labels)
    ):
        raise CheckpointError(p, "labels must be a list of at least 2 distinct non-empty names")
    try:
        features = FeatureConfig.from_dict(meta.get("features"))  # type: ignore[arg-type]
    except (TypeError, ValueError) as e:
        raise CheckpointError(p, str(e)) from None
    training = meta.get("training") or {}
    if not isinstance(training, dict):
        raise CheckpointError(p, "training summary must be a JSON object")
    return ModelInfo(
        arch=arch,
        labels=tuple(labels),
        features=features,
        training=training,
        name=str(meta.get("name") or ""),
        created=str(meta.get("created") or ""),
        app_version=str(meta.get("app_version") or ""),
    )


def read_info(path: str | os.PathLike[str]) -> ModelInfo:
    """Metadata only (for pickers and listings); still validated."""
    p = Path(path)
    _check_is_safetensors(p)
    try:
        with safe_open(p, framework="numpy") as f:
            raw = (f.metadata() or {}).get(META_KEY)
    except Exception as e:
        raise CheckpointError(p, f"corrupt safetensors file ({e})") from None
    if raw is None:
        raise CheckpointError(p, "a safetensors file, but not an mgr-desktop model (no metadata)")
    try:
        return parse_info(p, json.loads(raw))
    except json.JSONDecodeError as e:
        raise CheckpointError(p, f"model metadata is not valid JSON ({e})") from None
