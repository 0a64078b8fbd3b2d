"""`mgr-desktop`: the window by default, subcommands for headless use.

Heavy imports (torch, Qt) happen inside the subcommand that needs them, so `--help` is instant
and the window can appear before torch has loaded.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from mgr_desktop import __version__

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
DEVICE_HELP = "compute device: auto (CUDA > MPS > CPU), cpu, cuda or mps"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mgr-desktop",
        description="Music genre recognition. With no command, opens the window.",
        epilog="exit status: 0 success; 1 some inputs failed; 2 usage error or refused "
        "input (such as an unusable model file); 3 internal error (one line on stderr; "
        "--verbose shows the traceback).",
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
    p.add_argument(
        "--model", metavar="FILE", help="model file (.safetensors; default: the shipped model)"
    )
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
        default=3.0,
        metavar="SECONDS",
        help="hop between 3 s analysis segments (default 3: back to back, half the work of "
        "the window's 1.5)",
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="classify every file again; by default an unchanged file with the same model "
        "reuses the result remembered in the user cache folder",
    )
    tags = p.add_argument_group("genre tags (opt-in)")
    tags.add_argument(
        "--write-tags",
        action="store_true",
        help="write each verdict into the file's own genre tag (mp3, wav, aiff: ID3; ogg, "
        "opus, flac: GENRE; m4a: ©gen); the audio is never changed",
    )
    tags.add_argument(
        "--min-confidence",
        type=float,
        metavar="P",
        help="with --write-tags: write only verdicts at least this confident, 0 to 1 (default 0.6)",
    )
    tags.add_argument(
        "--dry-run",
        action="store_true",
        help="with --write-tags: list what would change (path: old -> new), write nothing",
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
    handler = logging.StreamHandler()
    # Without --verbose, errors that carry a traceback (the engine's per-file "unexpected
    # error") show their one-line message on stderr; the traceback stays out.
    handler.setFormatter(
        logging.Formatter("%(name)s: %(message)s")
        if verbose
        else _NoTracebackFormatter("%(levelname)s: %(message)s")
    )
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])
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
    except Exception as e:  # last resort: one line and a distinct exit code, never a traceback
        return _internal_error(e, verbose)


class _NoTracebackFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            return super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved


def _internal_error(e: Exception, verbose: bool) -> int:
    from mgr_desktop.safetext import escape

    # A log file, when one is configured, gets the traceback; stderr gets one line.
    files = [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.FileHandler) and h.baseFilename != os.devnull
    ]
    exc_info = (type(e), e, e.__traceback__)
    record = logging.LogRecord(
        "mgr_desktop", logging.ERROR, __file__, 0, "unexpected error", None, exc_info
    )
    for h in files:
        h.handle(record)
    log_files = [h.baseFilename for h in files]
    if verbose:
        import traceback

        traceback.print_exception(e, file=sys.stderr)
    where = (
        f"details in {log_files[0]}" if log_files else "run again with --verbose for the traceback"
    )
    print(
        f"mgr-desktop: internal error: {type(e).__name__}: {escape(str(e), 200)} ({where})",
        file=sys.stderr,
    )
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
