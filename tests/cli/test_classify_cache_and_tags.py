"""`classify` with the result cache (on by default, --no-cache) and --write-tags."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import mutagen
import numpy as np
import pytest

from mgr_desktop.cli import main
from mgr_desktop.inference.engine import Engine
from tests.helpers import tone, write


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "music"
    for i, ext in enumerate((".flac", ".ogg", ".wav", ".flac", ".ogg")):
        wave = tone(3.5, 22050, freq=110.0 * (i + 1) ** 1.7)
        wave += 0.05 * np.random.default_rng(i).standard_normal(len(wave)).astype(np.float32)
        write(d / f"{i} track{ext}", wave, 22050)
    return d


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every path that reaches the engine's decoder."""
    seen: list[str] = []
    original = Engine.classify_files

    def counting(self: Engine, paths, *a, **kw) -> Iterator[object]:
        paths = list(paths)
        seen.extend(map(str, paths))
        return original(self, paths, *a, **kw)

    monkeypatch.setattr(Engine, "classify_files", counting)
    return seen


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict], str]:
    code = main(["classify", "--format", "json", *args])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def genre_tag(path: Path) -> list[str] | None:
    f = mutagen.File(path)
    if f.tags is None:
        return None
    if path.suffix == ".wav":
        return [g for fr in f.tags.getall("TCON") for g in fr.genres] or None
    return list(f.tags.get("genre", [])) or None


def test_the_second_run_reuses_results_and_no_cache_does_not(
    folder: Path, cnn_model: Path, app_home: Path, calls: list[str], capsys
) -> None:
    code, first, _ = run_json(capsys, "--model", str(cnn_model), str(folder))
    assert code == 0 and len(first) == 5 and len(calls) == 5
    assert (app_home / "cache" / "results.sqlite").is_file()

    calls.clear()
    code, second, _ = run_json(capsys, "--model", str(cnn_model), str(folder))
    assert code == 0 and calls == []
    assert second == first

    code, third, _ = run_json(capsys, "--no-cache", "--model", str(cnn_model), str(folder))
    assert code == 0 and len(calls) == 5
    assert [r["genre"] for r in third] == [r["genre"] for r in first]


def test_no_cache_creates_no_database(
    folder: Path, cnn_model: Path, app_home: Path, capsys
) -> None:
    code, _, _ = run_json(capsys, "--no-cache", "--model", str(cnn_model), str(folder))
    assert code == 0
    assert not (app_home / "cache" / "results.sqlite").exists()


def test_dry_run_lists_changes_and_writes_nothing(
    folder: Path, cnn_model: Path, app_home: Path, capsys
) -> None:
    before = {p: p.read_bytes() for p in folder.iterdir()}
    code, rows, err = run_json(
        capsys, "--model", str(cnn_model), "--write-tags", "--min-confidence", "0", "--dry-run",
        str(folder),
    )  # fmt: skip
    assert code == 0
    for r in rows:
        assert f"{r['path']}: (none) -> " in err
    assert err.count("(dry run)") == 5
    assert "nothing written" in err and "5 would change" in err
    assert {p: p.read_bytes() for p in folder.iterdir()} == before


def test_tags_are_written_only_at_or_above_the_threshold(
    folder: Path, cnn_model: Path, app_home: Path, calls: list[str], capsys
) -> None:
    _, rows, _ = run_json(capsys, "--model", str(cnn_model), str(folder))
    conf = sorted(r["confidence"] for r in rows)
    assert conf[1] < conf[3], "the generated tracks should differ in confidence"
    threshold = (conf[1] + conf[2]) / 2
    calls.clear()
    code, rows, err = run_json(
        capsys, "--model", str(cnn_model), "--write-tags", "--min-confidence", str(threshold),
        str(folder),
    )  # fmt: skip
    assert code == 0, err
    assert calls == []  # verdicts came from the cache
    written = 0
    for r in rows:
        tag = genre_tag(Path(r["path"]))
        if r["confidence"] >= threshold:
            assert tag is not None and tag[0].casefold().replace("-", "") == r["genre"]
            assert f"{r['path']}: (none) -> {tag[0]}" in err
            written += 1
        else:
            assert tag is None
            assert r["path"] not in err
    assert written == 3
    assert "3 written" in err and "2 below the threshold" in err

    # the files changed (new tags, new mtime) but not their audio: still served from the cache
    code, _, err = run_json(
        capsys, "--model", str(cnn_model), "--write-tags", "--min-confidence", str(threshold),
        str(folder),
    )  # fmt: skip
    assert code == 0 and calls == []
    assert "3 already tagged" in err and "written" not in err


def test_a_file_that_cannot_be_tagged_is_one_line_and_the_batch_goes_on(
    folder: Path, cnn_model: Path, app_home: Path, capsys
) -> None:
    au = write(folder / "sun.au", tone(3.5, 22050, freq=300.0), 22050)
    ro = folder / "0 track.flac"
    ro.chmod(0o444)
    code, rows, err = run_json(
        capsys, "--model", str(cnn_model), "--write-tags", "--min-confidence", "0", str(folder)
    )
    assert code == 1
    assert len(rows) == 6 and all(r.get("genre") for r in rows)
    assert f"{au}: cannot write genre tag: unsupported format" in err
    assert f"{ro}: cannot write genre tag: the file is read-only" in err
    assert "4 written" in err and "2 could not be tagged" in err
    assert genre_tag(ro) is None
    assert genre_tag(folder / "1 track.ogg") is not None
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "args",
    [
        ["--dry-run"],
        ["--min-confidence", "0.5"],
        ["--write-tags", "--min-confidence", "1.5"],
        ["--write-tags", "--min-confidence", "-0.1"],
    ],
)
def test_tag_options_are_checked(
    args: list[str], folder: Path, cnn_model: Path, app_home: Path, capsys
) -> None:
    assert main(["classify", "--model", str(cnn_model), *args, str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mgr-desktop: error: ") and err.count("\n") == 1
