"""Pieces every subcommand shares: exit codes, the command record, model loading with clean
errors, progress bars."""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mgr_desktop.safetext import printable

if TYPE_CHECKING:  # imported when a command runs: parsing arguments must not load torch
    from mgr_desktop.inference.engine import Engine


# Exit codes, in one place: what scripts that call mgr-desktop can rely on.
EXIT_OK = 0  # everything done
EXIT_SOME_FAILED = 1  # some inputs failed; the others were still reported
EXIT_USAGE = 2  # usage error or refused input (such as an unusable model file)
EXIT_INTERNAL = 3  # an unexpected error: one line on stderr, the traceback with --verbose
EXIT_INTERRUPTED = 130  # Ctrl+C
DEVICE_HELP = "compute device: auto (CUDA > MPS > CPU), cpu, cuda or mps"


@dataclass(frozen=True)
class Command:
    """One subcommand: `cli.py` builds the parser and dispatches from a table of these, so a
    new subcommand is one module with one of these and one entry in `commands.COMMANDS`."""

    name: str
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def add_verbose(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log details, and tracebacks for unexpected errors",
    )


def in_range(low: float, high: float = math.inf, unit: str = "") -> type[argparse.Action]:
    """An argparse action for a number option (with type=int or float) that refuses a value
    outside [low, high], NaN and the infinities, while the arguments are parsed: exit 2 with
    one line, before a model is loaded or a file is read (later, --hop 0 fails every file and
    --folds 1 fails deep in training)."""
    span = f"at least {low:g}" if high == math.inf else f"between {low:g} and {high:g}"

    class InRange(argparse.Action):
        def __call__(
            self,
            parser: argparse.ArgumentParser,
            namespace: argparse.Namespace,
            values: Any,
            option_string: str | None = None,
        ) -> None:
            if not (math.isfinite(values) and low <= values <= high):
                parser.exit(
                    EXIT_USAGE, f"mgr-desktop: error: {option_string} must be {span}{unit} "
                    f"(not {values:g})\n",
                )  # fmt: skip
            setattr(namespace, self.dest, values)

    return InRange


def fail_usage(message: str) -> int:
    print(f"mgr-desktop: error: {printable(message)}", file=sys.stderr)
    return EXIT_USAGE


def load_engine(model: str, device: str, **kw: Any) -> Engine | None:
    """The engine, or None after printing one line saying why (refused file, missing device).

    The model goes through the one validating loader (`checkpoint.load_model`); whatever else
    fails while the engine is set up is still one line naming the file, never a traceback."""
    from mgr_desktop.device import DeviceUnavailableError
    from mgr_desktop.inference.engine import Engine
    from mgr_desktop.models.checkpoint import CheckpointError
    from mgr_desktop.safetext import escape

    try:
        return Engine.from_file(model, device, **kw)
    except (CheckpointError, DeviceUnavailableError) as e:
        fail_usage(str(e))
    except MemoryError:
        fail_usage(f"{printable(model)}: not enough memory to use this model")
    except Exception as e:  # a model file is input from a stranger: one line, exit 2
        logging.getLogger(__name__).debug("loading %s", model, exc_info=True)
        fail_usage(
            f"{printable(model)}: cannot use this model ({type(e).__name__}: {escape(str(e))})"
        )
    return None


def progress(**kw: Any) -> Any:
    """A tqdm bar on stderr when it is a terminal, silent otherwise."""
    from tqdm import tqdm

    return tqdm(file=sys.stderr, disable=not sys.stderr.isatty(), dynamic_ncols=True, **kw)
