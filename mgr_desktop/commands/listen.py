"""`mgr-desktop listen`: the live readout in a terminal, from the window's capture code."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from mgr_desktop.commands.common import (
    DEVICE_HELP,
    EXIT_OK,
    EXIT_USAGE,
    Command,
    add_verbose,
    fail_usage,
    load_engine,
)

READOUT_S = 0.25


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model", metavar="FILE", help="model file (.safetensors; default: the shipped model)"
    )
    p.add_argument(
        "--input", metavar="N", help="input device index or name (default: the system's)"
    )
    # The old name of --input (before 0.2: `--device` means the compute device elsewhere).
    p.add_argument("--device", dest="input", help=argparse.SUPPRESS)
    p.add_argument(
        "--seconds", type=float, metavar="S", help="stop after S seconds (default: until Ctrl+C)"
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--compute", default="auto", help=DEVICE_HELP)
    p.add_argument("--list-devices", action="store_true", help="list input devices and exit")
    add_verbose(p)


def run(args: argparse.Namespace) -> int:
    from mgr_desktop.audio.capture import Capture
    from mgr_desktop.audio.devices import AudioDeviceError, default_device, list_devices
    from mgr_desktop.inference.live import LiveAnalyzer
    from mgr_desktop.paths import model_or_default

    device: int | str | None = args.input
    if isinstance(device, str) and device.isdigit():
        device = int(device)
    try:
        if args.list_devices:
            for d in list_devices("input"):
                print(
                    f"{d.index:3d}  {d.name} ({d.hostapi}, {d.channels} ch)"
                    + ("  [default]" if d.is_default else "")
                )
            return EXIT_OK
        if device is None:
            default_device("input")  # a clear "no input device" before loading the model
    except AudioDeviceError as e:
        return fail_usage(str(e))
    engine = load_engine(model_or_default(args.model), args.compute)
    if engine is None:
        return EXIT_USAGE
    capture = Capture(engine.cfg.sample_rate, device)
    try:
        capture.start()
    except AudioDeviceError as e:
        return fail_usage(str(e))
    analyzer = LiveAnalyzer(engine)
    end = time.monotonic() + args.seconds if args.seconds else None
    next_at = time.monotonic() + READOUT_S
    last_written = -1
    try:
        while end is None or time.monotonic() < end:
            time.sleep(max(0.0, min(next_at, end or next_at) - time.monotonic()))
            # On time or not at all: after a stall (a slow model, a suspended terminal) the
            # missed readouts are dropped, never printed in a burst.
            next_at = max(next_at, time.monotonic()) + READOUT_S
            capture.pump()
            written = capture.ring.written
            if written < engine.cfg.segment_samples // 3 or written == last_written:
                continue  # too little audio yet, or none new since the last line
            last_written = written
            r = analyzer.analyze_ring(capture.ring, capture.level_db())
            print(_line(r, args.format), flush=True)
    except AudioDeviceError as e:
        print(f"mgr-desktop: error: {e}", file=sys.stderr)
        return 1
    finally:
        capture.stop()
    if capture.overflows:
        print(f"note: {capture.overflows} input overflows", file=sys.stderr)
    return EXIT_OK


def _line(r: Any, fmt: str) -> str:
    """One readout as a JSON object or a line of text."""
    if fmt == "json":
        return json.dumps(r.to_json(), allow_nan=False)
    if r.outside:
        return f"{r.time:6.1f} s  {r.verdict_text()}  level {r.level_db:5.1f} dBFS"
    if r.genre is None:
        return f"{r.time:6.1f} s  no signal  level {r.level_db:5.1f} dBFS"
    top = sorted(r.probabilities.items(), key=lambda kv: -kv[1])[1:3]
    rest = ", ".join(f"{g} {p:.0%}" for g, p in top)
    return (
        f"{r.time:6.1f} s  {r.genre:>10} {r.confidence:4.0%}  ({rest})  "
        f"level {r.level_db:5.1f} dBFS"
    )


COMMAND = Command(
    "listen",
    "print the live genre readout from a microphone",
    "Listen to an input device and print a readout from the last 3 s, four times a second.",
    add_arguments,
    lambda args: run(args),  # late-bound, so a patched run() is the one called
)
