"""`mgr-desktop classify`: files and folders -> genre verdicts as text, JSON lines or CSV."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import TextIO

from mgr_desktop.cli import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE
from mgr_desktop.commands.common import fail_usage, load_engine, progress
from mgr_desktop.inference.engine import FileFailure, TrackResult
from mgr_desktop.safetext import csv_cell, printable


def run(args: argparse.Namespace) -> int:
    from mgr_desktop.audio.discover import expand_inputs

    engine = load_engine(args.model, args.device, hop_seconds=args.hop)
    if engine is None:
        return EXIT_USAGE
    files, problems = expand_inputs(args.paths)
    if not files and not problems:
        return fail_usage("no input files")
    out = Writer(args.format, engine.labels, sys.stdout)
    failed = 0
    for prob in problems:
        out.write(FileFailure(prob.path, prob.reason))
        failed += 1
    with progress(total=len(files), unit="file", desc="classifying") as bar:
        for result in engine.classify_files(files):
            out.write(result)
            failed += isinstance(result, FileFailure)
            bar.update(1)
    if failed:
        print(f"{failed} of {len(files) + len(problems)} inputs failed", file=sys.stderr)
    return EXIT_SOME_FAILED if failed else EXIT_OK


class Writer:
    """One output row per input, flushed at once so a pipe sees results as they come.

    Labels and paths are data: JSON is strict (never NaN or Infinity), text escapes control
    characters, and CSV text cells cannot start a spreadsheet formula."""

    def __init__(self, fmt: str, labels: list[str], stream: TextIO) -> None:
        self.fmt, self.labels, self.stream = fmt, labels, stream
        if fmt == "csv":
            self.csv = csv.writer(stream, lineterminator="\n")
            self.csv.writerow(
                [
                    "path",
                    "genre",
                    "confidence",
                    "duration",
                    *(csv_cell(f"p_{lab}") for lab in labels),
                    "error",
                ]
            )

    def write(self, item: TrackResult | FileFailure) -> None:
        if self.fmt == "json":
            self.stream.write(json.dumps(item.to_json(), ensure_ascii=False, allow_nan=False))
            self.stream.write("\n")
        elif self.fmt == "csv":
            if isinstance(item, FileFailure):
                self.csv.writerow(
                    [csv_cell(item.path), "", "", "", *([""] * len(self.labels)),
                     csv_cell(item.error)]
                )  # fmt: skip
            else:
                verdict = item.genre is not None
                self.csv.writerow(
                    [
                        csv_cell(item.path),
                        csv_cell(item.genre or ""),
                        f"{item.confidence:.4f}" if verdict else "",
                        f"{item.duration:.2f}",
                        *(_cell(item.probabilities.get(lab)) for lab in self.labels),
                        "",
                    ]
                )
        elif isinstance(item, FileFailure):
            self.stream.write(f"{printable(item.path)}: error: {printable(item.error)}\n")
        elif item.genre is None:
            self.stream.write(
                f"{printable(item.path)}: {printable(item.note or item.verdict_text())}"
                f" ({item.duration:.1f} s)\n"
            )
        else:
            shown = 2 if item.uncertain else 1  # the verdict already names the first two
            runners = ", ".join(f"{printable(g)} {p:.0%}" for g, p in item.top(3)[shown:])
            self.stream.write(
                f"{printable(item.path)}: {printable(item.verdict_text())}"
                f" (then {runners}; {item.duration:.1f} s)\n"
            )
        self.stream.flush()


def _cell(p: float | None) -> str:
    return "" if p is None else f"{p:.4f}"
