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
    """One output row per input, flushed at once so a pipe sees results as they come."""

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
                    *(f"p_{lab}" for lab in labels),
                    "error",
                ]
            )

    def write(self, item: TrackResult | FileFailure) -> None:
        if self.fmt == "json":
            self.stream.write(json.dumps(item.to_json(), ensure_ascii=False) + "\n")
        elif self.fmt == "csv":
            if isinstance(item, FileFailure):
                self.csv.writerow([item.path, "", "", "", *([""] * len(self.labels)), item.error])
            else:
                self.csv.writerow(
                    [
                        item.path,
                        item.genre,
                        f"{item.confidence:.4f}",
                        f"{item.duration:.2f}",
                        *(f"{item.probabilities[lab]:.4f}" for lab in self.labels),
                        "",
                    ]
                )
        elif isinstance(item, FileFailure):
            self.stream.write(f"{item.path}: error: {item.error}\n")
        else:
            runners = ", ".join(f"{g} {p:.0%}" for g, p in item.top(3)[1:])
            self.stream.write(
                f"{item.path}: {item.genre} {item.confidence:.0%}"
                f" (then {runners}; {item.duration:.1f} s)\n"
            )
        self.stream.flush()
