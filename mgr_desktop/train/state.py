"""The resumable training state (`last.safetensors`): model, optimizer, scheduler and RNG
(the CPU's, and the CUDA devices' when training on a GPU).

Tensors go into safetensors, everything else into the JSON header, so resuming a run never
unpickles anything either.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from mgr_desktop.models.checkpoint import CheckpointError, read_tensors, save_tensors

FORMAT = "mgr-desktop-train-state"
VERSION = 1
# What a resumable state holds: this module's part, then the loop's (`meta` of save_state).
REQUIRED = ("optimizer", "scheduler", "scaler", "rng", "epoch", "batch", "history", "best_acc",
            "best_epoch", "loss_sum", "loss_count", "config", "labels", "features")  # fmt: skip


def _split_state(prefix: str, state: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Any:
    """Move tensors out of a nested state dict, leaving JSON-able placeholders."""
    if isinstance(state, torch.Tensor):
        tensors[prefix] = state
        return {"__tensor__": prefix}
    if isinstance(state, dict):
        return {
            "__dict__": [[k, _split_state(f"{prefix}.{k}", v, tensors)] for k, v in state.items()]
        }
    if isinstance(state, (list, tuple)):
        return [_split_state(f"{prefix}.{i}", v, tensors) for i, v in enumerate(state)]
    return state


def _join_state(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict) and "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if isinstance(obj, dict) and "__dict__" in obj:
        # keys keep their type: optimizer state is keyed by int parameter index
        return {k: _join_state(v, tensors) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [_join_state(v, tensors) for v in obj]
    return obj


def save_state(
    path: str | os.PathLike[str],
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: Any,
    meta: dict[str, Any],
) -> None:
    tensors: dict[str, torch.Tensor] = {f"model.{k}": v for k, v in model.state_dict().items()}
    doc = {
        "format": FORMAT,
        "format_version": VERSION,
        "optimizer": _split_state("optim", optimizer.state_dict(), tensors),
        "scheduler": _split_state("sched", scheduler.state_dict(), tensors),
        "scaler": _split_state("scaler", scaler.state_dict() if scaler else {}, tensors),
        "rng": _split_state("rng", rng_state(), tensors),
        **meta,
    }
    save_tensors(path, tensors, doc)


def rng_state() -> dict[str, Any]:
    """The random generators a resumed run needs: the CPU's, and each CUDA device's when
    CUDA is in use (dropout on a GPU draws from the device's generator, not the CPU's)."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Put back what `rng_state` saved. CUDA states go to the devices they came from; a state
    saved without CUDA leaves the CUDA generators as they are."""
    torch.set_rng_state(state["torch"])
    saved = state.get("cuda") or []
    if saved and torch.cuda.is_available():
        for i, s in enumerate(saved[: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(s, i)


def load_state(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(metadata with optimizer/scheduler/rng state rebuilt, model weights)."""
    tensors, meta = read_tensors(path)
    if meta.get("format") != FORMAT:
        raise CheckpointError(path, "not an mgr-desktop training state (last.safetensors)")
    if meta.get("format_version", 0) > VERSION:
        raise CheckpointError(path, "written by a newer mgr-desktop; please update the app")
    missing = [k for k in REQUIRED if k not in meta]
    if missing:
        raise CheckpointError(path, f"incomplete training state (no {', '.join(missing)})")
    for key in ("optimizer", "scheduler", "scaler", "rng"):
        meta[key] = _join_state(meta[key], tensors)
    if not isinstance(meta["rng"], dict) or "torch" not in meta["rng"]:
        raise CheckpointError(path, "incomplete training state (no random generator state)")
    weights = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    return meta, weights
