"""`classify --write-tags`: the options, and each verdict written into its file's genre tag.

The deciding (threshold, second genre, files that already have genres) is
`audio.genre_tags`'s, shared with the window; the user's names for the genres are
`genre_names`'s saved file, plus any `--genre-name LABEL=NAME` given for this run only.

A verdict is written only into the file it was made from: the file must still be as it was
just before it was decoded (`result_source.source_key`), else it is refused. Before its first
write in a folder a run removes the temporary copies that killed runs left there.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from mgr_desktop.atomic import SweepOnce
from mgr_desktop.commands.common import fail_usage
from mgr_desktop.safetext import printable

if TYPE_CHECKING:  # parsing arguments must not import torch
    from mgr_desktop.audio.genre_tags import TagChange
    from mgr_desktop.inference.results import TrackResult

DEFAULT_MIN_CONFIDENCE = 0.6

# How the summary line counts the files skipped for each reason (genre_tags' skip texts).
_COUNTED_AS = {
    "already has genres": "kept (they have genres; --replace-genres replaces them)",
    "none of its genres": "outside the model's genres",
}


def add_tag_arguments(p: argparse.ArgumentParser) -> None:
    """The "genre tags (opt-in)" group of `classify`."""
    tags = p.add_argument_group("genre tags (opt-in)")
    tags.add_argument(
        "--write-tags",
        action="store_true",
        help="write each verdict into the genre tag of the files that have none (mp3, wav, "
        "aiff: ID3; ogg, opus, flac: GENRE; m4a: ©gen); a second genre too when the music is "
        "between two; the audio is never changed",
    )
    tags.add_argument(
        "--min-confidence",
        type=float,
        metavar="P",
        help="with --write-tags: write only verdicts at least this confident, 0 to 1 "
        "(default 0.6; a close pair of genres counts together)",
    )
    tags.add_argument(
        "--dry-run",
        action="store_true",
        help="with --write-tags: list what would change (path: old -> new) and the genres "
        "kept, write nothing",
    )
    tags.add_argument(
        "--replace-genres",
        action="store_true",
        help="with --write-tags: also replace the genres files already have (kept by default)",
    )
    tags.add_argument(
        "--genre-name",
        action="append",
        default=[],
        metavar="LABEL=NAME",
        help="with --write-tags: write the model's genre LABEL as NAME (repeatable; for this "
        "run, on top of the names saved in the window's write-tags dialog)",
    )


@dataclass(frozen=True)
class TagOptions:
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    dry_run: bool = False
    replace: bool = False
    names: dict[str, str] = field(default_factory=dict)


def tag_options(args: argparse.Namespace) -> TagOptions | int | None:
    """The options with --write-tags, None without it, or an exit code on misuse."""
    write_tags, dry_run = getattr(args, "write_tags", False), getattr(args, "dry_run", False)
    min_confidence = getattr(args, "min_confidence", None)
    replace = getattr(args, "replace_genres", False)
    assignments: list[str] = getattr(args, "genre_name", None) or []
    if not write_tags:
        if dry_run or min_confidence is not None or replace or assignments:
            return fail_usage(
                "--dry-run, --min-confidence, --replace-genres and --genre-name go with "
                "--write-tags"
            )
        return None
    min_confidence = DEFAULT_MIN_CONFIDENCE if min_confidence is None else min_confidence
    if not 0.0 <= min_confidence <= 1.0:
        return fail_usage("--min-confidence must be between 0 and 1 (for example 0.6)")
    names = _names(assignments)
    if isinstance(names, int):
        return names
    return TagOptions(min_confidence, dry_run, replace, names)


def _names(assignments: list[str]) -> dict[str, str] | int:
    """The saved names with this run's --genre-name on top (not saved), or an exit code."""
    from mgr_desktop.audio.genre_names import NamesError, parse_assignment, read_names

    extra: dict[str, str] = {}
    for text in assignments:
        try:
            label, name = parse_assignment(text)
        except ValueError as e:
            return fail_usage(str(e))
        extra[label] = name
    try:
        saved = read_names()
    except NamesError as e:
        print(f"mgr-desktop: warning: genre names ignored: {printable(str(e))}", file=sys.stderr)
        saved = {}
    return {**saved, **extra}


class TagWriter:
    """`--write-tags`: each verdict that passes into the file's genre tag, one line per file
    changed (or, with --dry-run, that would change or is kept) or that cannot be tagged.
    Lines go to stderr, so JSON and CSV on stdout stay machine-readable."""

    def __init__(self, options: TagOptions, cache: Any) -> None:
        from mgr_desktop.audio.genre_tags import sweep_leftovers

        self.options = options
        self.cache = cache
        self.counts: dict[str, int] = {}
        self.failed = 0
        self.sweep = SweepOnce(sweep_leftovers)  # earlier runs' leftovers, once per folder

    @property
    def dry_run(self) -> bool:
        return self.options.dry_run

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def _say(self, line: str) -> None:
        from tqdm import tqdm

        tqdm.write(line, file=sys.stderr)  # above the progress bar, when there is one

    def handle(self, result: TrackResult) -> None:
        from mgr_desktop.audio.genre_tags import KEPT, plan

        opts = self.options
        if not self.dry_run:
            self._sweep(result.path)
        change = plan(result, opts.min_confidence, replace=opts.replace, names=opts.names)
        name = printable(result.path)
        if change.error:
            self.failed += 1
            self._say(f"{name}: cannot write genre tag: {printable(change.error)}")
        elif change.skip:
            self._count(change.skip.split(" (")[0])
            if change.skip == KEPT and self.dry_run:
                self._say(f"{name}: {printable(change.describe())}")
        elif self.dry_run:
            self._count("would change")
            self._say(f"{name}: {printable(change.describe())} (dry run)")
        else:
            self._write(result, change)

    def _write(self, result: TrackResult, change: TagChange) -> None:
        """Write one planned change, say so and re-cache the verdict under the tagged file's new
        identity; SIGINT/SIGTERM wait for all three (atomic.hold_signals)."""
        from mgr_desktop.atomic import hold_signals
        from mgr_desktop.audio.genre_tags import TagError, tag_file
        from mgr_desktop.inference.result_source import source_key

        source = source_key(result)
        with hold_signals():
            try:
                old, key = tag_file(change.path, change.new, expect=source)
            except TagError as e:
                self.failed += 1
                self._say(f"{printable(result.path)}: cannot write genre tag: {printable(str(e))}")
                return
            self._count("written")
            done = replace(change, old=old)
            self._say(f"{printable(result.path)}: {printable(done.describe())}")
            if source is not None and self.cache is not None:  # its audio is unchanged
                self.cache.rekey(source, key)

    def _sweep(self, path: str) -> None:
        folder, removed = self.sweep(path)
        if removed:
            self._say(
                f"{printable(folder)}: removed {len(removed)} temporary "
                f"{'copy' if len(removed) == 1 else 'copies'} left by an interrupted run"
            )

    def summary(self) -> None:
        parts = [f"{n} {_COUNTED_AS.get(what, what)}" for what, n in self.counts.items()]
        if self.failed:
            parts.append(f"{self.failed} could not be tagged")
        head = "genre tags (dry run, nothing written)" if self.dry_run else "genre tags"
        print(
            f"{head}: {', '.join(parts) or 'nothing to do'} "
            f"(threshold {self.options.min_confidence:.0%})",
            file=sys.stderr,
        )
