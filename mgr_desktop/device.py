"""Choose the compute device: CUDA > MPS > CPU unless the user says otherwise."""

from __future__ import annotations

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


class DeviceUnavailableError(RuntimeError):
    pass


def pick_device(requested: str | None = None) -> torch.device:
    req = (requested or "auto").lower()
    if req == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if req.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceUnavailableError("CUDA was requested but no CUDA GPU is available")
    if req == "mps" and not torch.backends.mps.is_available():
        raise DeviceUnavailableError("MPS was requested but Apple Metal is not available")
    try:
        return torch.device(req)
    except RuntimeError:
        raise DeviceUnavailableError(f"unknown device {requested!r}") from None


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA ({torch.cuda.get_device_name(device)})"
    return {"mps": "MPS (Apple GPU)", "cpu": "CPU"}.get(device.type, str(device))
