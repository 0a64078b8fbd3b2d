"""Choose the compute device: CUDA > MPS > CPU unless the user says otherwise."""

from __future__ import annotations

import torch

from mgr_desktop.config import PRECISION_CHOICES

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


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX512-BF16 or AMX). Read from Linux's
    /proc/cpuinfo; elsewhere False, so other systems keep float32 rather than guess."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def pick_precision(requested: str | None, device: torch.device, int8_ready: bool = False) -> str:
    """The model's arithmetic. "auto" is int8 on a CPU where the engine offers it
    (`int8_ready`: a musicnn front end with shipped ranges whose filters gain little from
    their low rank, see inference/engine.py), else bfloat16 on a CPU that has it in
    hardware, where convolutions run 1.3-1.6x faster and the shipped model's verdicts stay
    float32's (80 of 80 GTZAN tracks; track probabilities within 0.008), else float32.
    Features are always computed in float32."""
    req = (requested or "auto").lower()
    if req not in PRECISION_CHOICES:
        raise ValueError(f"unknown precision {requested!r} ({', '.join(PRECISION_CHOICES)})")
    if req == "auto":
        if device.type == "cpu" and int8_ready:
            return "int8"
        return "bfloat16" if device.type == "cpu" and cpu_has_native_bf16() else "float32"
    if req in ("bfloat16", "int8") and device.type != "cpu":
        raise DeviceUnavailableError(f"{req} is offered on the CPU only")
    if req == "int8" and not int8_ready:
        raise DeviceUnavailableError(
            "int8 is offered for models on the shipped musicnn backbones, on x86 CPUs"
        )
    return req
