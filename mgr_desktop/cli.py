"""`mgr-desktop`: the window by default, subcommands for headless use.

Heavy imports (torch, Qt) happen inside the subcommand that needs them, so `--help` is instant
and the window can appear before torch has loaded.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence

from mgr_desktop import __version__
from mgr_desktop.commands.common import (  # re-exported: scripts and tests use them from here
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
)

__all__ = ["EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_SOME_FAILED", "EXIT_USAGE"]


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
    from mgr_desktop.commands import COMMANDS

    for command in COMMANDS.values():
        p = sub.add_parser(command.name, help=command.help, description=command.description)
        command.add_arguments(p)
    return parser


def entry() -> int:
    """The program's entry point (the `mgr-desktop` script, `python -m mgr_desktop`, the
    frozen app): `main`, then an exit that skips the interpreter's last garbage collections.
    They walk every object torch made, half a second of a short command, and nothing needs
    finding in a process that is ending (tests call `main`, which keeps collecting)."""
    code = main()
    import gc

    gc.freeze()
    return code


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
    from mgr_desktop.logs import setup_logging

    log_path = setup_logging(handler, verbose)
    if verbose and log_path is not None:
        print(f"mgr-desktop: log file {log_path}", file=sys.stderr)
    if args.self_test:
        from mgr_desktop.selftest import run_self_test

        return run_self_test()
    from mgr_desktop.atomic import Interrupted, interrupt_on_signals
    from mgr_desktop.commands import COMMANDS

    # Headless commands stop on SIGINT and SIGTERM once the file write under way is done (a
    # tagged copy renamed or removed: atomic.py); the window handles its own quitting.
    headless = args.command not in (None, "gui")
    try:
        with interrupt_on_signals() if headless else contextlib.nullcontext():
            return COMMANDS[args.command or "gui"].run(args)
    except KeyboardInterrupt as e:
        print("interrupted", file=sys.stderr)
        return 128 + e.signum if isinstance(e, Interrupted) else EXIT_INTERRUPTED  # 143: SIGTERM
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
        f"details in {log_files[0]}; --verbose shows them here"
        if log_files
        else "run again with --verbose for the traceback"
    )
    print(
        f"mgr-desktop: internal error: {type(e).__name__}: {escape(str(e), 200)} ({where})",
        file=sys.stderr,
    )
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(entry())
