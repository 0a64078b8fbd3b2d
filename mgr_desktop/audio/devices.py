"""Audio device listing through sounddevice (PortAudio), with errors turned into messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class AudioDeviceError(Exception):
    """No usable device, or PortAudio failed; the message is for the user."""


@dataclass(frozen=True)
class Device:
    index: int
    name: str
    hostapi: str
    channels: int
    default_rate: float
    is_default: bool


def list_devices(kind: str) -> list[Device]:
    """kind: "input" or "output". Empty when PortAudio has none."""
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
        apis = sd.query_hostapis()
        default = sd.default.device[0 if kind == "input" else 1]
    except Exception as e:  # PortAudioError and friends
        raise AudioDeviceError(f"cannot list audio devices: {e}") from None
    key = "max_input_channels" if kind == "input" else "max_output_channels"
    return [
        Device(i, d["name"], apis[d["hostapi"]]["name"], d[key], d["default_samplerate"],
               i == default)
        for i, d in enumerate(devices) if d[key] > 0
    ]  # fmt: skip


def explain(e: BaseException, kind: str, device: object = None) -> str:
    """PortAudio's words for a failed device, as a sentence for the user. Device -1 means
    PortAudio found no device of that kind at all (no sound card, no audio server)."""
    text = str(e).strip() or type(e).__name__
    which = f"{kind} device {device!r}" if device is not None else f"the default {kind} device"
    missing = ("No Default", "Invalid device", "-9996", "querying device -1")
    if any(m.lower() in text.lower() for m in missing):
        return (
            f"no audio {kind} device available ({which}): no sound card or audio server "
            f"was found (PortAudio: {text})"
        )
    return f"cannot open {which}: {text}"


def default_device(kind: str) -> Device:
    devices = list_devices(kind)
    if not devices:
        raise AudioDeviceError(f"no audio {kind} device found")
    return next((d for d in devices if d.is_default), devices[0])


def _sounddevice() -> Any:
    try:
        import sounddevice
    except OSError as e:  # PortAudio library missing
        raise AudioDeviceError(
            f"PortAudio is not available ({e}); install it (Debian/Ubuntu: libportaudio2)"
        ) from None
    return sounddevice
