"""Model files from a stranger (issue 13): every one is refused in one line, or answered with
finite numbers, in bounded time and memory, by the real `mgr-desktop classify`.

The hostile files are derived here from one tiny cnn model. Each runs as `python -m
mgr_desktop classify --model FILE --format json WAV` in a child process; to keep this fast the
children are forked from one driver that has already imported torch (a fresh interpreter costs
seconds), and each child reports its own peak memory. A couple of cases also run as a plain
subprocess, exactly as a user would.
"""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import struct
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save as st_bytes
from safetensors.torch import save_file

from mgr_desktop.config import GTZAN_GENRES, FeatureConfig
from mgr_desktop.inference.engine import FileFailure, Segment, TrackResult
from mgr_desktop.models.checkpoint import META_KEY, ModelInfo
from mgr_desktop.models.registry import build_model
from mgr_desktop.safetext import printable
from tests.helpers import tone, write

REPO = Path(__file__).resolve().parents[2]
MAX_EXTRA_MB = 1000  # peak memory a child may add to what the imports already took
MAX_SECONDS = 30


# -- the base model and ways to damage it ----------------------------------------------------
@dataclass
class Base:
    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any]
    raw: bytes  # the valid file's bytes


def _base() -> Base:
    torch.manual_seed(0)
    model = build_model("cnn", len(GTZAN_GENRES)).eval()
    tensors = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    meta = ModelInfo("cnn", GTZAN_GENRES, FeatureConfig(), name="base").to_json()
    return Base(tensors, meta, st_bytes(tensors, metadata={META_KEY: json.dumps(meta)}))


def _file(tensors: dict[str, torch.Tensor], meta_text: str) -> bytes:
    return st_bytes(tensors, metadata={META_KEY: meta_text})


def _meta(b: Base, **changes: Any) -> bytes:
    meta = json.loads(json.dumps(b.meta))
    for key, value in changes.items():
        if "__" in key:  # features__n_fft=... changes a nested value
            outer, inner = key.split("__")
            meta[outer][inner] = value
        else:
            meta[key] = value
    return _file(b.tensors, json.dumps(meta))


def _raw_meta(b: Base, replace: tuple[str, str]) -> bytes:
    """Metadata text edited as text: for what json.dumps would not write (NaN, 10**400)."""
    text = json.dumps(b.meta)
    assert replace[0] in text
    return _file(b.tensors, text.replace(replace[0], replace[1], 1))


def _weights(b: Base, name: str, change: Callable[[torch.Tensor], torch.Tensor]) -> bytes:
    tensors = dict(b.tensors)
    tensors[name] = change(tensors[name].clone()).contiguous()
    return _file(tensors, json.dumps(b.meta))


def _js(b: Base) -> str:
    return json.dumps(b.meta)


def _scaled(b: Base, factor: float) -> bytes:
    """Every weight times `factor`, BatchNorm statistics and counters kept."""
    return _file(
        {
            k: v * factor if v.is_floating_point() and "running" not in k else v
            for k, v in b.tensors.items()
        },
        _js(b),
    )


def _split(raw: bytes) -> tuple[dict[str, Any], bytes]:
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def _pack(header: dict[str, Any] | bytes, data: bytes) -> bytes:
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def _header(b: Base, edit: Callable[[dict[str, Any]], None]) -> bytes:
    header, data = _split(b.raw)
    edit(header)
    return _pack(header, data)


def _relabel(dtype: str, name: str = "head.5.weight") -> Callable[[dict[str, Any]], None]:
    def edit(h: dict[str, Any]) -> None:
        h[name]["dtype"] = dtype

    return edit


def _overlap(h: dict[str, Any]) -> None:
    h["head.5.bias"]["data_offsets"] = h["head.5.weight"]["data_offsets"]


def _past_end(h: dict[str, Any]) -> None:
    start, end = h["head.5.weight"]["data_offsets"]
    h["head.5.weight"]["data_offsets"] = [start, end + 10**9]


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _labels(n: int) -> list[str]:
    return [f"g{i}" for i in range(n)]


def _with_outputs(b: Base, labels: list[str]) -> bytes:
    torch.manual_seed(1)
    model = build_model("cnn", len(labels)).eval()
    meta = dict(b.meta, labels=labels)
    return _file(dict(model.state_dict()), json.dumps(meta))


class _Exploit:
    marker = ""

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {_Exploit.marker}",))


# Each case: id -> (how to make the file's bytes, or a callable that makes the file itself;
# what must happen: "refused" or "either" (refused, or finite answers)).
REFUSED, EITHER, ANSWERED = "refused", "either", "answered"
Maker = Callable[[Base], bytes] | Callable[[Base, Path], None]
CASES: dict[str, tuple[Maker, str]] = {
    "valid": (lambda b: b.raw, ANSWERED),
    # the container
    "empty": (lambda b: b"", REFUSED),
    "truncated": (lambda b: b.raw[:-1000], REFUSED),
    "header-cut": (lambda b: b.raw[: 8 + 100], REFUSED),
    "header-length-2^63": (lambda b: struct.pack("<Q", 2**63) + b.raw[8:], REFUSED),
    "header-length-short": (
        lambda b: struct.pack("<Q", struct.unpack("<Q", b.raw[:8])[0] - 9) + b.raw[8:],
        REFUSED,
    ),
    "header-not-json": (lambda b: _pack(b"{not json at all}", b""), REFUSED),
    "header-20MB": (
        lambda b: _header(b, lambda h: h["__metadata__"].update(pad=" " * 20_000_000)),
        REFUSED,
    ),
    "overlapping-offsets": (lambda b: _header(b, _overlap), REFUSED),
    "offsets-past-end": (lambda b: _header(b, _past_end), REFUSED),
    "metadata-value-not-text": (
        lambda b: _header(b, lambda h: h["__metadata__"].update(mgr_desktop=5)),
        REFUSED,
    ),
    "no-metadata": (lambda b: st_bytes(b.tensors), REFUSED),
    "random-bytes": (lambda b: os.urandom(4096), REFUSED),
    # pickles, whatever their name says
    "pickle-torch-save": (lambda b, p: torch.save(b.tensors, p), REFUSED),
    "pickle-exploit": (lambda b: pickle.dumps({"w": _Exploit()}, protocol=2), REFUSED),
    "pickle-protocol-0": (lambda b: pickle.dumps({"w": [1.0]}, protocol=0), REFUSED),
    # metadata types
    "arch-list": (lambda b: _meta(b, arch=["cnn"]), REFUSED),
    "arch-dict": (lambda b: _meta(b, arch={"cnn": 1}), REFUSED),
    "arch-unknown": (lambda b: _meta(b, arch="vgg99"), REFUSED),
    "metadata-json-list": (lambda b: _file(b.tensors, json.dumps([b.meta])), REFUSED),
    "metadata-json-string": (lambda b: _file(b.tensors, '"cnn"'), REFUSED),
    "metadata-json-null": (lambda b: _file(b.tensors, "null"), REFUSED),
    "metadata-not-json": (lambda b: _file(b.tensors, "{"), REFUSED),
    "format-version-true": (lambda b: _meta(b, format_version=True), REFUSED),
    "format-version-1.0": (lambda b: _meta(b, format_version=1.0), REFUSED),
    "format-version-99": (lambda b: _meta(b, format_version=99), REFUSED),
    "format-other": (lambda b: _meta(b, format="other"), REFUSED),
    "labels-dict": (lambda b: _meta(b, labels={"a": 1}), REFUSED),
    "labels-numbers": (lambda b: _meta(b, labels=list(range(10))), REFUSED),
    "labels-one": (lambda b: _meta(b, labels=["solo"]), REFUSED),
    "labels-duplicate": (lambda b: _meta(b, labels=["rock"] * 10), REFUSED),
    "features-null": (lambda b: _meta(b, features=None), REFUSED),
    "features-list": (lambda b: _meta(b, features=[1, 2]), REFUSED),
    "features-unknown-key": (lambda b: _meta(b, features__colour=3), REFUSED),
    "temperature-text": (lambda b: _meta(b, temperature="1"), REFUSED),
    "temperature-0.001": (lambda b: _meta(b, temperature=0.001), REFUSED),
    "temperature-NaN": (
        lambda b: _raw_meta(b, ('"temperature": 1.0', '"temperature": NaN')),
        REFUSED,
    ),
    "training-list": (lambda b: _meta(b, training=[1]), REFUSED),
    "training-accuracy-text": (
        lambda b: _meta(b, training={"test_track_accuracy": "high"}),
        REFUSED,
    ),
    "training-accuracy-inf": (
        lambda b: _raw_meta(b, ('"training": {}', '"training": {"test_macro_f1": Infinity}')),
        REFUSED,
    ),
    "name-dict": (lambda b: _meta(b, name={"a": 1}), REFUSED),
    "tags-dict": (lambda b: _meta(b, tags={"a": 1}), REFUSED),
    # nesting
    "nested-100000-training": (
        lambda b: _raw_meta(b, ('"training": {}', f'"training": {{"x": {_nested(100_000)}}}')),
        REFUSED,
    ),
    "nested-100000-features": (
        lambda b: _raw_meta(b, ('"features": {', f'"features": {{"x": {_nested(100_000)}, ')),
        REFUSED,
    ),
    "nested-30": (lambda b: _meta(b, training={"x": json.loads(_nested(30))}), REFUSED),
    # label counts
    "labels-4-million": (lambda b: _meta(b, labels=_labels(4_000_000)), REFUSED),
    "labels-1001": (lambda b: _meta(b, labels=_labels(1001)), REFUSED),
    "labels-5-outputs-10": (lambda b: _meta(b, labels=_labels(5)), REFUSED),
    "labels-1000-outputs-1000": (lambda b: _with_outputs(b, _labels(1000)), ANSWERED),
    # feature settings
    "segment-3600": (lambda b: _meta(b, features__segment_seconds=3600.0), REFUSED),
    "segment-0.01": (lambda b: _meta(b, features__segment_seconds=0.01), REFUSED),
    "segment-0.5-too-short-for-cnn": (lambda b: _meta(b, features__segment_seconds=0.5), REFUSED),
    "segment-text": (lambda b: _meta(b, features__segment_seconds="3"), REFUSED),
    "hop-1": (lambda b: _meta(b, features__hop_length=1), REFUSED),
    "hop-0": (lambda b: _meta(b, features__hop_length=0), REFUSED),
    "n_fft-2^26": (lambda b: _meta(b, features__n_fft=2**26), REFUSED),
    "n_fft-2048.9": (lambda b: _meta(b, features__n_fft=2048.9), REFUSED),
    "n_fft-1000": (lambda b: _meta(b, features__n_fft=1000), REFUSED),
    "n_fft-true": (lambda b: _meta(b, features__n_fft=True), REFUSED),
    "sample_rate-1e9": (lambda b: _meta(b, features__sample_rate=1e9), REFUSED),
    "sample_rate-10^9": (lambda b: _meta(b, features__sample_rate=10**9), REFUSED),
    "sample_rate-10^400": (
        lambda b: _raw_meta(b, ('"sample_rate": 22050', '"sample_rate": 1' + "0" * 400)),
        REFUSED,
    ),
    "sample_rate-1000": (lambda b: _meta(b, features__sample_rate=1000), REFUSED),
    "n_mels-8": (lambda b: _meta(b, features__n_mels=8), REFUSED),
    "n_mels-31": (lambda b: _meta(b, features__n_mels=31), REFUSED),
    "n_mels-100000": (lambda b: _meta(b, features__n_mels=100_000), REFUSED),
    "fmin-above-fmax": (
        lambda b: _meta(b, features={**b.meta["features"], "fmin": 8000.0, "fmax": 100.0}),
        REFUSED,
    ),
    "fmax-above-nyquist": (lambda b: _meta(b, features__fmax=50_000.0), REFUSED),
    "fmin-negative": (lambda b: _meta(b, features__fmin=-10.0), REFUSED),
    "amin-0": (lambda b: _meta(b, features__amin=0.0), REFUSED),
    "amin-negative": (lambda b: _meta(b, features__amin=-1.0), REFUSED),
    "ref_power-0": (lambda b: _meta(b, features__ref_power=0.0), REFUSED),
    "norm_std-1e-300": (lambda b: _meta(b, features__norm_std=1e-300), REFUSED),
    "norm_std-0": (lambda b: _meta(b, features__norm_std=0.0), REFUSED),
    "db_floor-above-ceiling": (lambda b: _meta(b, features__db_floor=100.0), REFUSED),
    "db_floor-minus-infinity": (
        lambda b: _raw_meta(b, ('"db_floor": -100.0', '"db_floor": -Infinity')),
        REFUSED,
    ),
    "compression-mp3": (lambda b: _meta(b, features__compression="mp3"), REFUSED),
    "log_gain-0": (lambda b: _meta(b, features__log_gain=0.0), REFUSED),
    # weights
    "weights-nan": (lambda b: _weights(b, "head.5.weight", lambda t: t.fill_(math.nan)), REFUSED),
    "weights-inf": (
        lambda b: _weights(b, "features.0.0.weight", lambda t: t.fill_(math.inf)),
        REFUSED,
    ),
    "weights-3e38": (lambda b: _weights(b, "head.2.weight", lambda t: t.fill_(3e38)), REFUSED),
    "weights-1e30-bias": (lambda b: _weights(b, "head.5.bias", lambda t: t.fill_(1e30)), REFUSED),
    "weights-1e7-everywhere": (lambda b: _scaled(b, 1e7), EITHER),
    "weights-zero": (
        lambda b: _scaled(b, 0.0),
        EITHER,
    ),
    "running_var-negative": (
        lambda b: _weights(b, "features.2.1.running_var", lambda t: t.fill_(-1.0)),
        REFUSED,
    ),
    # tensor types
    "dtype-I8": (lambda b: _weights(b, "head.5.weight", lambda t: t.to(torch.int8)), REFUSED),
    "dtype-BOOL": (lambda b: _weights(b, "head.5.weight", lambda t: t > 0), REFUSED),
    "dtype-F16": (lambda b: _weights(b, "head.5.weight", lambda t: t.half()), REFUSED),
    "dtype-F64": (lambda b: _weights(b, "head.5.weight", lambda t: t.double()), REFUSED),
    "dtype-I32-relabelled": (lambda b: _header(b, _relabel("I32")), REFUSED),
    "dtype-I64-counter-as-F32": (
        lambda b: _weights(b, "features.0.1.num_batches_tracked", lambda t: t.float()),
        REFUSED,
    ),
    # layout
    "tensor-missing": (
        lambda b: _file({k: v for k, v in b.tensors.items() if k != "head.5.bias"}, _js(b)),
        REFUSED,
    ),
    "tensor-extra": (
        lambda b: _file({**b.tensors, "evil": torch.zeros(3)}, json.dumps(b.meta)),
        REFUSED,
    ),
    "tensor-wrong-shape": (
        lambda b: _weights(b, "head.2.weight", lambda t: torch.zeros(256, 255)),
        REFUSED,
    ),
    # labels as data
    "label-newline-escape": (
        lambda b: _meta(b, labels=["other.wav: metal 100%\n\x1b[31mx", *GTZAN_GENRES[1:]]),
        REFUSED,
    ),
    "label-bidi-override": (lambda b: _meta(b, labels=["\u202erock", *GTZAN_GENRES[1:]]), REFUSED),
    "label-10MB": (lambda b: _meta(b, labels=["x" * 10_000_000, *GTZAN_GENRES[1:]]), REFUSED),
    "label-65-chars": (lambda b: _meta(b, labels=["x" * 65, *GTZAN_GENRES[1:]]), REFUSED),
    "label-blank": (lambda b: _meta(b, labels=["   ", *GTZAN_GENRES[1:]]), REFUSED),
    "label-formulas": (
        lambda b: _meta(b, labels=['=cmd|" /C calc"!A3', "+1", "-1", "@A1", *GTZAN_GENRES[4:]]),
        EITHER,
    ),
    # the file system
    "fifo": (lambda b, p: os.mkfifo(p), REFUSED),
    "dangling-symlink": (lambda b, p: p.symlink_to(p.parent / "nowhere.safetensors"), REFUSED),
    "symlink-loop": (
        lambda b, p: (p.symlink_to(p.with_name("b")), p.with_name("b").symlink_to(p)),
        REFUSED,
    ),
    "self-symlink": (lambda b, p: p.symlink_to(p), REFUSED),
    "folder": (lambda b, p: p.mkdir(), REFUSED),
    "dev-zero": (lambda b, p: p.symlink_to("/dev/zero"), REFUSED),
}


def make_hostile(base: Base, folder: Path, case: str) -> Path:
    maker, _ = CASES[case]
    path = folder / f"{case}.safetensors"
    if maker.__code__.co_argcount == 2:
        maker(base, path)  # type: ignore[call-arg]
    else:
        path.write_bytes(maker(base))  # type: ignore[call-arg]
    return path


# -- running the real command in bounded children ---------------------------------------------
DRIVER = textwrap.dedent(
    """
    import json, os, resource, runpy, signal, sys, time

    import librosa.filters  # noqa: F401  what every child would import: paid once, here
    import mgr_desktop.commands.classify  # noqa: F401
    import mgr_desktop.inference.engine  # noqa: F401  (torch: the children fork warm)

    cases, results, timeout = json.load(open(sys.argv[1])), sys.argv[2], float(sys.argv[3])
    out = []
    for case in cases:
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:  # the child: `python -m mgr_desktop ARGV`, stdout/stderr to files
            code = 99
            try:
                for fd, name in ((1, case["stdout"]), (2, case["stderr"])):
                    os.dup2(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
                signal.alarm(int(timeout) + 1)
                start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                sys.argv = ["mgr-desktop", *case["argv"]]
                try:
                    runpy.run_module("mgr_desktop", run_name="__main__", alter_sys=True)
                    code = 0
                except SystemExit as e:
                    code = e.code if isinstance(e.code, int) else 1
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                with open(case["rusage"], "w") as f:
                    json.dump({"start_kb": start, "peak_kb": peak}, f)
            except BaseException:
                import traceback
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        rc = None
        while time.monotonic() - t0 < timeout:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                rc = os.waitstatus_to_exitcode(status)
                break
            time.sleep(0.01)
        if rc is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        out.append({"id": case["id"], "rc": rc, "seconds": time.monotonic() - t0})
    json.dump(out, open(results, "w"))
    """
)


@dataclass
class Outcome:
    path: Path
    rc: int | None  # None: killed at the timeout
    seconds: float
    stdout: str
    stderr: str
    extra_mb: float | None  # peak memory above what the child started with


def run_classify_children(
    jobs: dict[str, list[str]], work: Path, timeout: float = 60
) -> dict[str, Outcome]:
    """Run `mgr-desktop ARGV` once per job, forked from a warm driver; outcomes by job id."""
    work.mkdir(parents=True, exist_ok=True)
    cases = [
        {
            "id": job,
            "argv": argv,
            "stdout": str(work / f"{i}.out"),
            "stderr": str(work / f"{i}.err"),
            "rusage": str(work / f"{i}.rusage"),
        }
        for i, (job, argv) in enumerate(jobs.items())
    ]
    (work / "cases.json").write_text(json.dumps(cases))
    (work / "driver.py").write_text(DRIVER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    subprocess.run(
        [sys.executable, str(work / "driver.py"), str(work / "cases.json"),
         str(work / "results.json"), str(timeout)],
        cwd=REPO, env=env, check=True, timeout=timeout * len(cases) + 120,
    )  # fmt: skip
    results = {r["id"]: r for r in json.loads((work / "results.json").read_text())}
    outcomes = {}
    for case in cases:
        r = results[case["id"]]
        usage = Path(case["rusage"])
        extra = None
        if usage.exists():
            u = json.loads(usage.read_text())
            extra = (u["peak_kb"] - u["start_kb"]) / 1024
        outcomes[case["id"]] = Outcome(
            Path(case["argv"][case["argv"].index("--model") + 1]),
            r["rc"],
            r["seconds"],
            Path(case["stdout"]).read_text(errors="replace"),
            Path(case["stderr"]).read_text(errors="replace"),
            extra,
        )
    return outcomes


def strict_json(line: str) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} in JSON output")

    return json.loads(line, parse_constant=refuse)


def assert_refused_or_finite(o: Outcome, expect: str = EITHER) -> None:
    """The contract: exit 2 with one line naming the file, or exit 0 with finite JSON."""
    assert o.rc is not None, f"no answer within the timeout ({o.seconds:.0f} s)"
    assert "Traceback" not in o.stderr, o.stderr
    if o.rc == 2:
        assert expect != ANSWERED, o.stderr
        lines = o.stderr.strip().splitlines()
        assert len(lines) == 1, o.stderr
        assert lines[0].startswith("mgr-desktop: error: "), lines[0]
        assert printable(str(o.path)) in lines[0], lines[0]
        assert o.stdout == ""
    else:
        assert o.rc == 0, f"exit {o.rc}: {o.stderr}"
        assert expect != REFUSED, f"accepted, should be refused: {o.stdout[:300]}"
        rows = [strict_json(line) for line in o.stdout.splitlines()]
        assert len(rows) == 1 and "error" not in rows[0], rows
        row = rows[0]
        numbers = [row["confidence"], *row["probabilities"].values()]
        numbers += [s["confidence"] for s in row["segments"]]
        assert all(isinstance(x, (int, float)) and math.isfinite(x) for x in numbers)
        assert abs(sum(row["probabilities"].values()) - 1) < 1e-3
    assert o.extra_mb is not None and o.extra_mb < MAX_EXTRA_MB, f"{o.extra_mb} MB"
    assert o.seconds < MAX_SECONDS


@pytest.fixture(scope="module")
def base() -> Base:
    return _base()


@pytest.fixture(scope="module")
def wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("audio") / "tone.wav", tone(4.0, 22050, 330), 22050)


@pytest.fixture(scope="module")
def outcomes(base: Base, wav: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    folder = tmp_path_factory.mktemp("hostile")
    _Exploit.marker = str(folder / "pwned")
    jobs = {}
    for case in CASES:
        path = make_hostile(base, folder, case)
        jobs[case] = ["classify", "--model", str(path), "--format", "json", str(wav)]
    results = run_classify_children(jobs, tmp_path_factory.mktemp("runs"))
    assert not (folder / "pwned").exists(), "a pickle ran code"
    return results


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_model_is_refused_in_one_line_or_answered_finitely(
    outcomes: dict[str, Outcome], case: str
) -> None:
    assert_refused_or_finite(outcomes[case], CASES[case][1])


def test_metadata_that_claims_millions_of_labels_is_refused_before_it_costs_anything(
    outcomes: dict[str, Outcome],
) -> None:
    o = outcomes["labels-4-million"]
    assert o.rc == 2 and o.seconds < 5 and (o.extra_mb or 0) < 200, (o.seconds, o.extra_mb)


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("fifo", "FIFO"),
        ("dangling-symlink", "broken symbolic link"),
        ("symlink-loop", "symbolic link loop"),
        ("pickle-exploit", "pickle"),
        ("arch-list", "metadata arch: must be text"),
        ("metadata-json-list", "must be a JSON object"),
        ("format-version-true", "format_version"),
        ("nested-100000-training", "nested"),
        ("labels-5-outputs-10", "head.5.weight has shape [10, 256], expected [5, 256]"),
        ("n_fft-2048.9", "n_fft: must be a whole number"),
        ("hop-1", "hop_length 1"),
        ("n_mels-8", "n_mels 8"),
        ("norm_std-1e-300", "norm_std"),
        ("weights-nan", "NaN"),
        ("running_var-negative", "negative"),
        ("dtype-I32-relabelled", "I32"),
        ("segment-0.5-too-short-for-cnn", "cannot run on these feature settings"),
        ("label-10MB", "too large"),
        ("label-newline-escape", "printable"),
    ],
)
def test_refusals_say_why(outcomes: dict[str, Outcome], case: str, reason: str) -> None:
    assert reason in outcomes[case].stderr


def test_the_real_entry_point_refuses_a_fifo_and_answers_a_good_model(
    base: Base, wav: Path, tmp_path: Path
) -> None:
    """Plain `python -m mgr_desktop`, no driver: what a user runs."""
    good = make_hostile(base, tmp_path, "valid")
    fifo = make_hostile(base, tmp_path, "fifo")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    for model, rc in ((fifo, 2), (good, 0)):
        p = subprocess.run(
            [sys.executable, "-m", "mgr_desktop", "classify", "--model", str(model),
             "--format", "json", str(wav)],
            capture_output=True, text=True, timeout=120, cwd=REPO, env=env,
        )  # fmt: skip
        assert p.returncode == rc, p.stderr
        assert_refused_or_finite(
            Outcome(model, p.returncode, 0, p.stdout, p.stderr, 0.0),
            ANSWERED if rc == 0 else REFUSED,
        )


# -- output: labels and paths are data ---------------------------------------------------------
def _result(labels: list[str], path: str, p: float = 0.5) -> TrackResult:
    probs = {lab: (1 - p) / (len(labels) - 1) for lab in labels}
    probs[labels[0]] = p
    seg = Segment(0.0, 3.0, labels[0], p, probabilities=None)  # type: ignore[arg-type]
    return TrackResult(path, labels[0], p, probs, [seg], 3.0)


def test_csv_output_cannot_start_a_formula() -> None:
    from mgr_desktop.commands.classify import Writer

    labels = ['=cmd|" /C calc"!A3', "+1", "-2", "@SUM(A1)", "\tx", "rock"]
    out = io.StringIO()
    w = Writer("csv", labels, out)
    for lab in labels:
        w.write(_result([lab, *(x for x in labels if x != lab)], f"{lab}.wav"))
    w.write(FileFailure("=HYPERLINK(1).wav", "=bad"))
    import csv

    rows = list(csv.reader(io.StringIO(out.getvalue())))
    cells = [c for row in rows for c in row]
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells), cells
    assert rows[1][1] == "'" + labels[0] and rows[1][0] == "'" + labels[0] + ".wav"


def test_text_output_escapes_control_characters() -> None:
    from mgr_desktop.commands.classify import Writer

    out = io.StringIO()
    w = Writer("text", ["metal\n\x1b[31m", "rock"], out)
    w.write(_result(["metal\n\x1b[31m", "rock"], "a\nother.wav: metal 100%.wav"))
    w.write(FileFailure("b\r.wav", "bad\x1b[2J"))
    text = out.getvalue()
    assert len(text.splitlines()) == 2 and "\x1b" not in text and "\r" not in text
    assert "\\n" in text and "\\x1b" in text


def test_json_output_refuses_nan_rather_than_print_it() -> None:
    from mgr_desktop.commands.classify import Writer

    out = io.StringIO()
    with pytest.raises(ValueError):
        Writer("json", ["a", "b"], out).write(_result(["a", "b"], "x.wav", p=math.nan))
    assert "NaN" not in out.getvalue()


def test_evaluate_treats_non_finite_reports_as_invalid() -> None:
    from mgr_desktop.commands.evaluate import _all_finite

    assert _all_finite({"loss": 0.5, "per_class": {"a": {"f1": 1.0}}, "confusion": [[1, 0]]})
    assert not _all_finite({"loss": math.nan})
    assert not _all_finite({"per_class": {"a": {"f1": math.inf}}})


def test_an_unexpected_error_is_one_line_and_exit_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mgr_desktop import cli
    from mgr_desktop.commands import classify

    def boom(args: object) -> int:
        raise RuntimeError("something\nbroke")

    monkeypatch.setattr(classify, "run", boom)
    assert cli.main(["classify", "--model", "m", "x.wav"]) == cli.EXIT_INTERNAL == 3
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "RuntimeError: something\\nbroke" in err and "--verbose" in err
    assert cli.main(["classify", "-v", "--model", "m", "x.wav"]) == 3
    assert "Traceback" in capsys.readouterr().err


def test_plain_safetensors_and_a_tensor_named_like_a_path_are_refused(tmp_path: Path) -> None:
    from mgr_desktop.models.checkpoint import CheckpointError, load_model

    path = tmp_path / "plain.safetensors"
    save_file({"../../etc/passwd": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="not an mgr-desktop model"):
        load_model(path)
