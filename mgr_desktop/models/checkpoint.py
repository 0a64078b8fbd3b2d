"""Model files are data, never code: one .safetensors file, JSON metadata in its header.

A model file is input from a stranger, so `load_model` is the one validating loader: the file
must be a bounded regular safetensors file (`metadata.check_model_file`), its metadata must pass
the schema (`schema.py`) before anything is allocated, and only then is the architecture built
(its size bounded by the architecture and at most 1,000 labels). Every tensor's name, shape and
type must match that model before a weight is read; every weight must be finite and in range;
and one forward pass on fixed inputs must give finite outputs of the right shape. Whatever else
goes wrong becomes a `CheckpointError`: one line naming the file and the reason. Metadata alone
(no torch) is in `metadata.py`.
"""

from __future__ import annotations

import json
import logging
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
    MAX_STATE_HEADER,
    META_KEY,
    CheckpointError,
    Header,
    ModelInfo,
    check_model_file,
    parse_info,
    read_info,
    read_info_and_header,
)
from mgr_desktop.models.registry import build_model
from mgr_desktop.safetext import escape

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

log = logging.getLogger(__name__)
# Trained weights and BatchNorm statistics stay many orders of magnitude below this; 3e38 is
# a float32 overflow waiting to happen.
MAX_ABS_WEIGHT = 1e8
PROBE_SEED = 1234
_DTYPE_NAMES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


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
    """Read a file written by `save_tensors` (the training state), refusing anything that is not
    a regular safetensors file with a JSON object for metadata. No model checks: see
    `load_model` for model files."""
    p = Path(path)
    try:
        check_model_file(p, MAX_STATE_HEADER)
        with safe_open(p, framework="pt", device="cpu") as f:
            raw_meta = (f.metadata() or {}).get(META_KEY)
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
    except CheckpointError:
        raise
    except MemoryError:
        raise CheckpointError(p, "not enough memory to read this file") from None
    except Exception as e:  # safetensors raises its own SafetensorError and OSError
        raise CheckpointError(p, f"corrupt safetensors file ({escape(str(e))})") from None
    if raw_meta is None:
        raise CheckpointError(p, "a safetensors file, but not an mgr-desktop model (no metadata)")
    try:
        meta = json.loads(raw_meta)
    except (ValueError, RecursionError) as e:  # JSONDecodeError is a ValueError
        raise CheckpointError(p, f"metadata is not valid JSON ({escape(str(e))})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(p, "model metadata must be a JSON object")
    return tensors, meta


def save_model(path: str | os.PathLike[str], model: torch.nn.Module, info: ModelInfo) -> None:
    save_tensors(path, dict(model.state_dict()), info.to_json())


def load_model(path: str | os.PathLike[str]) -> LoadedModel:
    """Validate the file, build its architecture and load the weights strictly (CPU, eval).

    Raises CheckpointError, and nothing else, for any file."""
    p = Path(path)
    try:
        return _load_model(p)
    except CheckpointError:
        raise
    except MemoryError:
        raise CheckpointError(p, "not enough memory to load this model") from None
    except Exception as e:  # a file from a stranger gets one line, never a traceback
        log.debug("loading %s", p, exc_info=True)
        raise CheckpointError(
            p, f"cannot load this model ({type(e).__name__}: {escape(str(e))})"
        ) from None


def _load_model(p: Path) -> LoadedModel:
    info, header = read_info_and_header(p)  # bounded file, validated metadata; no tensor read
    # Bounded by the architecture and at most 1,000 labels, whatever the file claims.
    model = build_model(info.arch, len(info.labels))
    expected = model.state_dict()
    _check_layout(p, info, header, expected)
    tensors = _read_weights(p, expected)
    model.load_state_dict(tensors, strict=True)
    model.eval()
    _probe(p, info, model)
    return LoadedModel(model, info, p)


def _shape(shape: Any) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _check_layout(
    p: Path, info: ModelInfo, header: Header, expected: dict[str, torch.Tensor]
) -> None:
    """Every tensor name, shape and type as the architecture has them, read from the header."""
    what = f"weights do not match architecture {info.arch}"
    missing = [k for k in expected if k not in header.tensors]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise CheckpointError(p, f"{what}: missing tensor {missing[0]}{more}")
    unexpected = [k for k in header.tensors if k not in expected]
    if unexpected:
        more = f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else ""
        raise CheckpointError(p, f"{what}: unexpected tensor {escape(unexpected[0], 60)}{more}")
    n = len(info.labels)
    for name, want in expected.items():
        dtype, shape = header.tensors[name]
        if shape != tuple(want.shape):
            hint = (
                f" ({n} labels need {n} outputs)"
                if n in want.shape and len(shape) == len(want.shape)
                else ""
            )
            raise CheckpointError(
                p,
                f"{what}: {name} has shape {_shape(shape)}, expected {_shape(want.shape)}{hint}",
            )
        want_dtype = _DTYPE_NAMES.get(want.dtype, str(want.dtype))
        if dtype != want_dtype:
            raise CheckpointError(
                p, f"{what}: {name} is stored as {escape(dtype, 10)}, expected {want_dtype}"
            )


def _read_weights(p: Path, expected: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    tensors: dict[str, torch.Tensor] = {}
    with safe_open(p, framework="pt", device="cpu") as f:
        for name in expected:
            t = f.get_tensor(name)
            if t.is_floating_point() and t.numel():
                if not bool(torch.isfinite(t).all()):
                    raise CheckpointError(p, f"weights {name} contain NaN or infinite values")
                peak = float(t.abs().max())
                if peak > MAX_ABS_WEIGHT:
                    raise CheckpointError(
                        p, f"weights {name} reach {peak:.3g}, far beyond a trained model's range"
                    )
                if name.endswith("running_var") and float(t.min()) < 0:
                    raise CheckpointError(p, f"{name}: a variance cannot be negative")
            tensors[name] = t
    return tensors


def _probe(p: Path, info: ModelInfo, model: torch.nn.Module) -> None:
    """One forward pass on fixed inputs (silence, noise, loud noise): finite logits, one per
    label. Settings the architecture cannot run (windows its pooling cannot take) and weights
    that overflow are refused here, once, not per audio file."""
    cfg = info.features
    shape = (1, 1, cfg.n_mels, cfg.segment_frames)
    gen = torch.Generator().manual_seed(PROBE_SEED)
    noise = torch.randn(shape, generator=gen)
    x = torch.cat([torch.zeros(shape), noise, 3 * noise.abs()])
    try:
        with torch.inference_mode():
            out = model(x)
    except (RuntimeError, ValueError, IndexError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise CheckpointError(
            p,
            f"architecture {info.arch} cannot run on these feature settings "
            f"({cfg.n_mels} mels x {cfg.segment_frames} frames: {escape(first, 120)})",
        ) from None
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (3, len(info.labels)):
        got = _shape(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise CheckpointError(p, f"the model's output is {got}, expected one score per label")
    if not bool(torch.isfinite(out).all()):
        raise CheckpointError(p, "the model gives NaN or infinite scores on a test input")
