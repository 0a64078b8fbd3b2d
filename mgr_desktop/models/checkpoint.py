"""Model files are data, never code: one .safetensors file, JSON metadata in its header.

Loading checks the magic bytes before anything parses the file, so a pickle (`torch.save`
output, whatever its extension) is refused without being executed. Metadata alone (no torch)
is in `metadata.py`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes

from mgr_desktop.atomic import write_bytes_atomic
from mgr_desktop.models.metadata import (  # re-exported: callers import them from here too
    FORMAT,
    FORMAT_VERSION,
    META_KEY,
    CheckpointError,
    ModelInfo,
    _check_is_safetensors,
    parse_info,
    read_info,
)
from mgr_desktop.models.registry import build_model

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "CheckpointError",
    "LoadedModel",
    "ModelInfo",
    "load_model",
    "parse_info",
    "read_info",
    "read_tensors",
    "save_model",
    "save_tensors",
]


@dataclass
class LoadedModel:
    model: torch.nn.Module
    info: ModelInfo
    path: Path


def save_tensors(
    path: str | os.PathLike[str], tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> None:
    """Atomically write tensors plus a JSON document in the safetensors header."""
    flat = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    write_bytes_atomic(path, safetensors_bytes(flat, metadata={META_KEY: json.dumps(meta)}))


def read_tensors(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a file written by `save_tensors`, refusing anything that is not safetensors."""
    p = Path(path)
    _check_is_safetensors(p)
    try:
        with safe_open(p, framework="pt", device="cpu") as f:
            raw_meta = (f.metadata() or {}).get(META_KEY)
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
    except Exception as e:  # safetensors raises its own SafetensorError and OSError
        raise CheckpointError(p, f"corrupt safetensors file ({e})") from None
    if raw_meta is None:
        raise CheckpointError(p, "a safetensors file, but not an mgr-desktop model (no metadata)")
    try:
        meta = json.loads(raw_meta)
    except json.JSONDecodeError as e:
        raise CheckpointError(p, f"model metadata is not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(p, "model metadata must be a JSON object")
    return tensors, meta


def save_model(path: str | os.PathLike[str], model: torch.nn.Module, info: ModelInfo) -> None:
    save_tensors(path, dict(model.state_dict()), info.to_json())


def load_model(path: str | os.PathLike[str]) -> LoadedModel:
    """Validate the file, build its architecture and load the weights strictly (CPU, eval)."""
    p = Path(path)
    tensors, meta = read_tensors(p)
    info = parse_info(p, meta)
    model = build_model(info.arch, len(info.labels))
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        detail = " ".join(line.strip() for line in first[1:4]) or first[0]
        raise CheckpointError(
            p, f"weights do not match architecture {info.arch}: {detail}"
        ) from None
    model.eval()
    return LoadedModel(model, info, p)
