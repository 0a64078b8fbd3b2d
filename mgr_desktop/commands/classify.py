"""`mgr-desktop classify`: files and folders -> genre verdicts as text, JSON lines or CSV."""

from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from mgr_desktop.commands.common import (
    DEVICE_HELP,
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    Command,
    add_verbose,
    fail_usage,
    in_range,
    load_engine,
    progress,
)
from mgr_desktop.commands.tag_writer import TagWriter, add_tag_arguments, tag_options
from mgr_desktop.config import PRECISION_CHOICES
from mgr_desktop.safetext import csv_cell, name_bytes, printable, readable

if TYPE_CHECKING:  # parsing arguments must not import torch
    from mgr_desktop.inference.decode_pool import DecodePool
    from mgr_desktop.inference.result_cache import FileKey, ResultCache
    from mgr_desktop.inference.results import FileFailure, TrackResult

# Segments are 3 s: a hop under 0.1 s repeats each one 30 times over, and one past a minute
# leaves most of the music unheard.
MIN_HOP_SECONDS, MAX_HOP_SECONDS = 0.1, 60.0
# Files the decoding process starts on while torch loads: about what it decodes in
# that time (a sampled song takes 0.1-0.3 s); a cache hit among them only costs that time.
PREFETCH = 8


def add_arguments(p: argparse.ArgumentParser) -> None:
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
        "--precision",
        choices=PRECISION_CHOICES,
        default="auto",
        help="the model's arithmetic: auto (default) is int8 on a CPU for the musicnn models "
        "(~3x faster), else bfloat16 on a CPU that has it in hardware, else float32; float32 "
        "is the reference",
    )
    p.add_argument(
        "--hop",
        type=float,
        action=in_range(MIN_HOP_SECONDS, MAX_HOP_SECONDS, " seconds"),
        default=3.0,
        metavar="SECONDS",
        help="hop between 3 s analysis segments (default 3: back to back, as the window)",
    )
    p.add_argument(
        "--full",
        action="store_true",
        help="analyse every segment of every file; by default a file over 90 s gets its "
        "verdict from 20 segments spread over it (the same verdict on 34 of 34 real songs, "
        "several times faster)",
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="classify every file again; by default an unchanged file with the same model "
        "reuses the result remembered in the user cache folder",
    )
    add_tag_arguments(p)  # "genre tags (opt-in)"
    add_verbose(p)


def run(args: argparse.Namespace) -> int:
    from mgr_desktop.audio.input_files import expand_inputs
    from mgr_desktop.inference.result_cache import ResultCache
    from mgr_desktop.inference.results import FileFailure
    from mgr_desktop.inference.track_audio import SAMPLE_SEGMENTS
    from mgr_desktop.paths import model_or_default

    tags = tag_options(args)
    if isinstance(tags, int):
        return tags
    files, problems = expand_inputs(args.paths)
    if not files and not problems:
        return fail_usage("no input files")
    model, count = model_or_default(args.model), 0 if args.full else SAMPLE_SEGMENTS
    with contextlib.ExitStack() as stack:
        decoders = _start_decoders(model, files, count, stack)
        engine = load_engine(model, args.device, hop_seconds=args.hop,
                             precision=args.precision, sample_segments=count)  # fmt: skip
        if engine is None:
            return EXIT_USAGE
        out = Writer(args.format, engine.labels, sys.stdout)
        for prob in problems:
            out.write(FileFailure(prob.path, prob.reason))
        inputs = _read_stdin(files, stack, out)
        cache = None if getattr(args, "no_cache", False) else ResultCache()
        if cache is not None:
            stack.callback(cache.close)
        safe_cache = SpoolSkippingCache(cache, inputs.spooled) if cache is not None else None
        tagger = TagWriter(tags, safe_cache) if tags is not None else None
        failed = (
            len(problems) + inputs.failed
            + _classify_all(engine, inputs, safe_cache, out, tagger, decoders)
        )  # fmt: skip
    if failed:
        print(f"{failed} of {len(files) + len(problems)} inputs failed", file=sys.stderr)
    if tagger is not None:
        tagger.summary()
    if any(not os.path.lexists(p) and p != "-" for p in args.paths):
        return EXIT_USAGE  # a named path that does not exist (as `ls`): after all the rest
    return EXIT_SOME_FAILED if failed or (tagger and tagger.failed) else EXIT_OK


@dataclass
class Inputs:
    """The files to classify, the name each one's result is shown under (standard input's
    own name, not its temporary copy's), and what was spooled."""

    files: list[Path] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    spooled: set[str] = field(default_factory=set)  # resolved paths never to cache
    failed: int = 0


def _read_stdin(files: list[Path], stack: contextlib.ExitStack, out: Writer) -> Inputs:
    """Standard input, when named ("-" or /dev/stdin), is read once in full into a temporary
    file (deleted at the end): a pipe cannot be opened twice, and the decoders look at a
    file's first bytes before reading it. A terminal, or more than 2 GiB, is one error row."""
    from mgr_desktop.audio.input_files import is_stdin, spool_stdin
    from mgr_desktop.inference.results import FileFailure

    inputs = Inputs()
    copy: Path | str | None = None
    for f in files:
        if not is_stdin(f):
            inputs.files.append(f)
            inputs.names.append(str(f))
            continue
        if copy is None:
            try:
                copy = stack.enter_context(spool_stdin())
                inputs.spooled.add(os.path.realpath(copy))
            except OSError as e:
                copy = str(e)
        if isinstance(copy, str):  # why standard input cannot be read
            out.write(FileFailure(str(f), copy))
            inputs.failed += 1
        else:
            inputs.files.append(copy)
            inputs.names.append(str(f))
    return inputs


def _start_decoders(
    model: str, files: list[Path], count: int, stack: contextlib.ExitStack
) -> DecodePool | None:
    """Decoding processes, forked before torch is imported and already decoding the first
    files while it loads (inference/decode_pool.py); None where there are none."""
    from mgr_desktop.audio.input_files import is_stdin
    from mgr_desktop.inference.decode_pool import DecodePool
    from mgr_desktop.inference.track_audio import BLOCK_SECONDS
    from mgr_desktop.models.metadata import read_info

    decoders = DecodePool.start()
    if decoders is None:
        return None
    stack.callback(decoders.close)
    try:
        features = read_info(model).features
    except Exception:  # the engine's loader says why the model is refused, in its own words
        return decoders
    first = [f for f in files if not is_stdin(f)][:PREFETCH]
    decoders.prefetch(first, (features, count, BLOCK_SECONDS))
    return decoders


def _classify_all(
    engine: Any, inputs: Inputs, cache: Any, out: Writer, tagger: Any, decoders: Any
) -> int:
    """Classify (through the result cache), write each result under its input's name, tag
    on request; the count of files that failed."""
    from mgr_desktop.inference.result_cache import cached_classify
    from mgr_desktop.inference.results import FileFailure, TrackResult

    failed = 0
    results = cached_classify(engine, inputs.files, cache, decoders)
    with progress(total=len(inputs.files), unit="file", desc="classifying") as bar:
        for file, name, result in zip(inputs.files, inputs.names, results, strict=True):
            spooled = str(file) != name
            if spooled:  # standard input, read from its temporary copy
                result = dataclasses.replace(result, path=name)
            out.write(result)
            failed += isinstance(result, FileFailure)
            if tagger is not None and isinstance(result, TrackResult) and not spooled:
                tagger.handle(result)
            bar.update(1)
    return failed


class SpoolSkippingCache:
    """The result cache, except for spooled standard input: its copy is gone after the run."""

    def __init__(self, cache: ResultCache, skip: set[str]) -> None:
        self._cache, self._skip = cache, skip

    @property
    def enabled(self) -> bool:
        return self._cache.enabled

    def use_model(self, model: str) -> None:
        self._cache.use_model(model)

    def contains(self, model: str, key: FileKey) -> bool:
        safe = self._key(key)
        return safe is not None and self._cache.contains(model, safe)

    def get(self, model: str, path: str | os.PathLike[str], key: FileKey | None = None) -> Any:
        from mgr_desktop.inference.result_cache import file_key

        safe = self._key(key or file_key(path))
        return None if safe is None else self._cache.get(model, path, safe)

    def put(self, model: str, result: TrackResult, key: FileKey | None = None) -> None:
        from mgr_desktop.inference.result_cache import file_key

        safe = self._key(key or file_key(result.path))
        if safe is not None:
            self._cache.put(model, result, safe)

    def rekey(self, old: FileKey, new: FileKey) -> None:
        if self._key(old) is not None:
            self._cache.rekey(old, new)

    def close(self) -> None:
        self._cache.close()

    def _key(self, key: FileKey | None) -> FileKey | None:
        return None if key is None or key[0] in self._skip else key


class Writer:
    """One output row per input, flushed at once so a pipe sees results as they come.

    Labels and paths are data: JSON is strict (never NaN or Infinity), text escapes control
    characters, and CSV text cells cannot start a spreadsheet formula."""

    def __init__(self, fmt: str, labels: list[str], stream: TextIO) -> None:
        self.fmt, self.labels, self.stream = fmt, labels, stream
        if fmt == "csv":
            self.csv = csv.writer(stream, lineterminator="\n")
            self.csv.writerow(
                ["path", "genre", "confidence", "uncertain", "outside", "closest", "duration",
                 *(csv_cell(f"p_{lab}") for lab in labels), "tags", "note", "error"]
            )  # fmt: skip

    def write(self, item: TrackResult | FileFailure) -> None:
        from mgr_desktop.inference.results import FileFailure

        if self.fmt == "json":
            self.stream.write(json.dumps(_json_doc(item), ensure_ascii=False, allow_nan=False))
            self.stream.write("\n")
        elif self.fmt == "csv":
            self.csv.writerow(_csv_row(item, self.labels))
        elif isinstance(item, FileFailure):
            self.stream.write(f"{printable(item.path)}: error: {printable(item.error)}\n")
        elif item.outside:
            tags = f" · {printable(' · '.join(list(item.tags)[:3]))}" if item.tags else ""
            self.stream.write(
                f"{printable(item.path)}: {printable(item.verdict_text())}"
                f" ({item.duration:.1f} s){tags}\n"
            )
        elif item.genre is None:
            self.stream.write(
                f"{printable(item.path)}: {printable(item.note or item.verdict_text())}"
                f" ({item.duration:.1f} s)\n"
            )
        else:
            shown = 2 if item.uncertain else 1  # the verdict already names the first two
            runners = ", ".join(f"{printable(g)} {p:.0%}" for g, p in item.top(3)[shown:])
            tags = f" · {printable(' · '.join(list(item.tags)[:3]))}" if item.tags else ""
            note = f" [{printable(item.note)}]" if item.note else ""  # e.g. a cut file
            self.stream.write(
                f"{printable(item.path)}: {printable(item.verdict_text())}"
                f" (then {runners}; {item.duration:.1f} s){tags}{note}\n"
            )
        self.stream.flush()


def _json_doc(item: TrackResult | FileFailure) -> dict[str, object]:
    """The result's JSON object as valid Unicode: a name that is not UTF-8 is shown with its
    odd bytes as `\\xNN`, and its own bytes follow in `path_bytes` (base64), so a script can
    still open the file."""
    doc = _readable_json(item.to_json())
    raw = name_bytes(item.path)
    if raw is None:
        return doc
    return {"path": doc.pop("path"), "path_bytes": base64.b64encode(raw).decode(), **doc}


def _readable_json(value: Any) -> Any:
    """Every string in a JSON value, keys too, through `readable` (an error reason can quote
    a link's target, also a name)."""
    if isinstance(value, str):
        return readable(value)
    if isinstance(value, dict):
        return {readable(k): _readable_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_readable_json(v) for v in value]
    return value


def _cell(p: float | None) -> str:
    return "" if p is None else f"{p:.4f}"


def _csv_row(item: TrackResult | FileFailure, labels: list[str]) -> list[str]:
    """One CSV row: the verdict's columns, or only path and error for a failed file."""
    from mgr_desktop.inference.results import FileFailure

    if isinstance(item, FileFailure):
        return [csv_cell(item.path), *([""] * (len(labels) + 8)), csv_cell(item.error)]
    has_p = item.genre is not None or item.outside
    return [
        csv_cell(item.path), csv_cell(item.genre or ""),
        f"{item.confidence:.4f}" if item.genre is not None else "",
        "yes" if item.uncertain else "", "yes" if item.outside else "",
        csv_cell(item.closest or "") if has_p else "", f"{item.duration:.2f}",
        *(_cell(item.probabilities.get(lab)) for lab in labels),
        csv_cell("; ".join(item.tags)), csv_cell(item.note), "",
    ]  # fmt: skip


COMMAND = Command(
    "classify",
    "classify audio files or folders",
    "Classify audio files; folders are searched recursively.",
    add_arguments,
    lambda args: run(args),  # late-bound, so a patched run() is the one called
)
