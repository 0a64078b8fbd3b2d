"""A log file the user can send: rotating, in the platform's log folder, with every traceback.

The CLI and the window both call `setup_logging`; `install_excepthooks` sends uncaught
exceptions (on any thread) to that log and to a callback (the window shows a short dialog),
instead of a silent exit or a traceback on a terminal nobody watches.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from mgr_desktop.paths import log_dir

LOG_NAME = "mgr-desktop.log"
MAX_BYTES, BACKUPS = 1_000_000, 3
log = logging.getLogger("mgr_desktop")


def log_file() -> Path:
    return log_dir() / LOG_NAME


def setup_logging(console: logging.Handler | None = None, verbose: bool = False) -> Path | None:
    """Root logging: the rotating file (DEBUG with --verbose, else INFO, tracebacks always)
    plus `console` when given. Returns the log file, or None when it cannot be written (a
    read-only home must not stop the app)."""
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for h in list(root.handlers):  # a second call (tests, the self-test) replaces, not adds
        if getattr(h, "_mgr_desktop", False):
            root.removeHandler(h)
            h.close()
    if console is not None:
        console._mgr_desktop = True  # type: ignore[attr-defined]
        console.setLevel(logging.INFO if verbose else logging.WARNING)
        root.addHandler(console)
    path = log_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True
        )
    except OSError:
        return None
    handler._mgr_desktop = True  # type: ignore[attr-defined]
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    return path


def install_excepthooks(on_error: Callable[[str], None] | None = None) -> None:
    """Uncaught exceptions, on the main thread or any other, go to the log with their
    traceback, then to `on_error` with one line (the window shows it with the log's path)."""

    def report(kind: type[BaseException], value: BaseException, tb: TracebackType | None,
               where: str) -> None:  # fmt: skip
        log.error("uncaught exception in %s", where, exc_info=(kind, value, tb))
        if on_error is not None:
            try:
                on_error(f"{kind.__name__}: {value}")
            except Exception:  # the reporter must not raise from inside a hook
                log.exception("reporting an uncaught exception")

    def main_hook(
        kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, tb)
            return
        report(kind, value, tb, "the main thread")

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or issubclass(args.exc_type, SystemExit):
            return
        name = args.thread.name if args.thread is not None else "a thread"
        report(args.exc_type, args.exc_value, args.exc_traceback, f"thread {name}")

    sys.excepthook = main_hook
    threading.excepthook = thread_hook
