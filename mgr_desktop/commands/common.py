"""Pieces every subcommand shares: model loading with clean errors, progress bars."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when a command runs: parsing arguments must not load torch
    from mgr_desktop.inference.engine import Engine


def fail_usage(message: str) -> int:
    print(f"mgr-desktop: error: {message}", file=sys.stderr)
    return 2


def load_engine(model: str, device: str, **kw: Any) -> Engine | None:
    """The engine, or None after printing why (refused file, missing device)."""
    from mgr_desktop.device import DeviceUnavailableError
    from mgr_desktop.inference.engine import Engine
    from mgr_desktop.models.checkpoint import CheckpointError

    try:
        return Engine.from_file(model, device, **kw)
    except (CheckpointError, DeviceUnavailableError) as e:
        fail_usage(str(e))
        return None


def progress(**kw: Any) -> Any:
    """A tqdm bar on stderr when it is a terminal, silent otherwise."""
    from tqdm import tqdm

    return tqdm(file=sys.stderr, disable=not sys.stderr.isatty(), dynamic_ncols=True, **kw)
