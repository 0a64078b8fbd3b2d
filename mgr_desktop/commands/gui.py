"""`mgr-desktop gui` (and no command at all): the window."""

from __future__ import annotations

import argparse

from mgr_desktop.commands.common import Command, add_verbose


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="*", metavar="FILE", help="audio files or folders to analyse")
    p.add_argument(
        "--model",
        metavar="FILE",
        help="model to use (default: the last one used, else the shipped one)",
    )
    add_verbose(p)


def run(args: argparse.Namespace) -> int:
    from mgr_desktop.gui.app import run_gui

    return run_gui(getattr(args, "files", []), getattr(args, "model", None))


COMMAND = Command(
    "gui",
    "open the window (the default)",
    "Open the window, optionally with files to analyse.",
    add_arguments,
    lambda args: run(args),  # late-bound, so a patched run() is the one called
)
