"""`mgr-desktop`: the window by default, subcommands for headless use.

Heavy imports (torch, Qt) happen inside the subcommand that needs them, so `--help` is instant
and the window can appear before torch has loaded.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from mgr_desktop import __version__

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2
DEVICE_HELP = "compute device: auto (CUDA > MPS > CPU), cpu, cuda or mps"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mgr-desktop",
        description="Music genre recognition. With no command, opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"mgr-desktop {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log details, and tracebacks for unexpected errors",
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check this installation offline and print a one-line summary",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "classify",
        help="classify audio files or folders",
        description="Classify audio files; folders are searched recursively.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio file or folder")
    p.add_argument("--model", required=True, metavar="FILE", help="model file (.safetensors)")
    p.add_argument(
        "--format",
        choices=("text", "json", "csv"),
        default="text",
        help="text (default), json (one object per line) or csv",
    )
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument(
        "--hop",
        type=float,
        default=1.5,
        metavar="SECONDS",
        help="hop between 3 s analysis windows (default 1.5)",
    )
    _add_verbose(p)

    from mgr_desktop.commands import evaluate, listen, train

    train.add_parser(sub, DEVICE_HELP)
    evaluate.add_parser(sub, DEVICE_HELP)
    listen.add_parser(sub, DEVICE_HELP)
    g = sub.add_parser(
        "gui",
        help="open the window (the default)",
        description="Open the window, optionally with files to analyse.",
    )
    g.add_argument("files", nargs="*", metavar="FILE", help="audio files or folders to analyse")
    g.add_argument("--model", metavar="FILE", help="model to use (default: the last one used)")
    _add_verbose(g)
    return parser


def _add_verbose(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log details, and tracebacks for unexpected errors",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s: %(message)s" if not verbose else "%(name)s: %(message)s",
    )
    if args.self_test:
        from mgr_desktop.selftest import run_self_test

        return run_self_test()
    command = args.command or "gui"
    try:
        if command == "classify":
            from mgr_desktop.commands.classify import run
        elif command == "train":
            from mgr_desktop.commands.train import run
        elif command == "evaluate":
            from mgr_desktop.commands.evaluate import run
        elif command == "listen":
            from mgr_desktop.commands.listen import run
        elif command == "gui":
            from mgr_desktop.gui.app import run_gui

            return run_gui(getattr(args, "files", []), getattr(args, "model", None))
        else:
            parser.error(f"the {command} command is not available in this build")
        return run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
