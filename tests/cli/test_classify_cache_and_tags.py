"""`classify` with the result cache (on by default, --no-cache) and --write-tags: untagged
files only unless --replace-genres, a close second genre as a second value, the user's names
(saved, and --genre-name for one run), and never a genre for a track without a verdict."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import mutagen
import numpy as np
import pytest

from mgr_desktop.audio.genre_names import names_path, save_names
from mgr_desktop.audio.genre_tags import genre_text
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


def top2(r: dict) -> tuple[tuple[str, float], tuple[str, float]]:
    """The verdict and the runner-up, from a JSON result."""
    second = max((p, g) for g, p in r["probabilities"].items() if g != r["genre"])
    return (r["genre"], r["confidence"]), (second[1], second[0])


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
    # The untrained test model is unsure between genres, so what passes is a pair of close
    # genres (the runner-up has over half the verdict's probability) that together reach the
    # threshold: a threshold between the pairs' sums writes some files and not others.
    for r in rows:
        (_, p1), (_, p2) = top2(r)
        assert p1 < 0.3 and p2 >= 0.5 * p1
    sums = sorted(p1 + p2 for (_, p1), (_, p2) in map(top2, rows))
    assert sums[1] + 1e-5 < sums[2], "the generated tracks should differ in confidence"
    threshold = (sums[1] + sums[2]) / 2
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
        (g1, p1), (g2, p2) = top2(r)
        if p1 + p2 >= threshold:
            assert tag == [genre_text(g1), genre_text(g2)]  # two values, the verdict first
            assert f"{r['path']}: (none) -> {tag[0]}; {tag[1]}" in err
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


def set_genre(path: Path, *genres: str) -> None:
    f = mutagen.File(path)
    f["genre"] = list(genres)
    f.save()


def test_genres_a_file_has_are_kept_unless_replace_genres(
    folder: Path, cnn_model: Path, app_home: Path, capsys
) -> None:
    tagged = folder / "1 track.ogg"
    set_genre(tagged, "Rock", "Pop")
    kept = tagged.read_bytes()
    before = {p: p.read_bytes() for p in folder.iterdir()}
    args = ("--model", str(cnn_model), "--write-tags", "--min-confidence", "0")

    code, rows, err = run_json(capsys, *args, "--dry-run", str(folder))
    assert code == 0
    assert f"{tagged}: Rock; Pop (kept: already has genres)" in err
    assert err.count("(none) -> ") == err.count("(dry run)") == 4
    assert "4 would change" in err and "1 kept" in err
    assert {p: p.read_bytes() for p in folder.iterdir()} == before

    code, rows, err = run_json(capsys, *args, str(folder))
    assert code == 0, err
    assert tagged.read_bytes() == kept  # byte for byte
    assert "4 written" in err and "1 kept" in err and "--replace-genres" in err
    assert str(tagged) not in err
    for r in rows:
        if r["path"] != str(tagged):
            (g1, _), (g2, _) = top2(r)
            assert genre_tag(Path(r["path"])) == [genre_text(g1), genre_text(g2)]

    code, rows, err = run_json(capsys, *args, "--replace-genres", str(folder))
    assert code == 0, err
    (g1, _), (g2, _) = top2(next(r for r in rows if r["path"] == str(tagged)))
    assert genre_tag(tagged) == [genre_text(g1), genre_text(g2)]
    assert f"{tagged}: Rock; Pop -> {genre_text(g1)}; {genre_text(g2)}" in err
    assert "1 written" in err and "4 already tagged" in err


def test_the_saved_names_and_genre_name_are_written(
    folder: Path, cnn_model: Path, app_home: Path, capsys
) -> None:
    _, rows, _ = run_json(capsys, "--model", str(cnn_model), str(folder))
    labels = list(rows[0]["probabilities"])
    saved = {lab: f"Saved {lab}" for lab in labels}
    save_names(saved)
    saved_text = names_path().read_text(encoding="utf-8")
    run_names = {rows[0]["genre"]: f"Run {rows[0]['genre']}"}  # for this run, over the saved
    code, rows, err = run_json(
        capsys, "--model", str(cnn_model), "--write-tags", "--min-confidence", "0",
        *(f"--genre-name={lab}={name}" for lab, name in run_names.items()), str(folder),
    )  # fmt: skip
    assert code == 0, err
    values = []
    for r in rows:
        (g1, _), (g2, _) = top2(r)
        expected = [run_names.get(g, saved[g]) for g in (g1, g2)]
        assert genre_tag(Path(r["path"])) == expected
        values += expected
    assert any(v.startswith("Run ") for v in values)
    assert any(v.startswith("Saved ") for v in values)
    assert names_path().read_text(encoding="utf-8") == saved_text  # --genre-name is not saved


def test_a_damaged_names_file_is_a_warning(
    folder: Path, cnn_model: Path, app_home: Path, capsys
) -> None:
    names_path().parent.mkdir(parents=True)
    names_path().write_text("{oops", encoding="utf-8")
    code, rows, err = run_json(
        capsys, "--model", str(cnn_model), "--write-tags", "--min-confidence", "0", str(folder)
    )
    assert code == 0
    assert "mgr-desktop: warning: genre names ignored:" in err and "not valid JSON" in err
    assert "5 written" in err
    (g1, _), (g2, _) = top2(rows[0])
    assert genre_tag(Path(rows[0]["path"])) == [genre_text(g1), genre_text(g2)]


def test_no_verdict_and_outside_are_never_written(
    folder: Path, cnn_model: Path, app_home: Path, capsys
) -> None:
    from dataclasses import dataclass, field

    from mgr_desktop.commands.tag_writer import TagOptions, TagWriter

    silent = write(folder / "silent.flac", np.zeros(3 * 22050, np.float32), 22050)
    data = silent.read_bytes()
    code, rows, err = run_json(
        capsys, "--model", str(cnn_model), "--write-tags", "--min-confidence", "0",
        "--replace-genres", str(folder),
    )  # fmt: skip
    assert code == 0
    assert next(r for r in rows if r["path"] == str(silent))["genre"] is None
    assert silent.read_bytes() == data
    assert "5 written" in err and "1 no verdict" in err and str(silent) not in err

    @dataclass(frozen=True)
    class Outside:  # a track outside the model's genres, as the engine reports it
        path: str
        genre: None = None
        confidence: float = 0.8
        probabilities: dict[str, float] = field(default_factory=lambda: {"jazz": 0.8})
        outside: bool = True

    for dry_run in (False, True):
        tagger = TagWriter(TagOptions(0.0, dry_run, True, {}), None)
        tagger.handle(Outside(str(silent)))  # type: ignore[arg-type]
        tagger.summary()
        err = capsys.readouterr().err
        assert "1 outside the model's genres" in err and str(silent) not in err
        assert not tagger.failed and silent.read_bytes() == data


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
        ["--replace-genres"],
        ["--genre-name", "hiphop=Hip Hop"],
        ["--write-tags", "--genre-name", "hiphop"],
        ["--write-tags", "--genre-name", "=Hip Hop"],
    ],
)
def test_tag_options_are_checked(
    args: list[str], folder: Path, cnn_model: Path, app_home: Path, capsys
) -> None:
    assert main(["classify", "--model", str(cnn_model), *args, str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mgr-desktop: error: ") and err.count("\n") == 1


def test_a_file_replaced_during_the_run_is_neither_tagged_nor_cached(
    folder: Path, cnn_model: Path, app_home: Path, calls: list[str], capsys, monkeypatch
) -> None:
    victim = folder / "2 track.wav"
    newcomer = write(folder.parent / "newcomer.wav", tone(5.0, 22050, freq=2500.0), 22050)
    counting = Engine.classify_files  # the `calls` fixture's

    def swapping(self: Engine, paths, *a, **kw) -> Iterator[object]:
        for r in counting(self, paths, *a, **kw):
            if r.path == str(victim) and newcomer.exists():
                newcomer.replace(victim)  # after its audio was read, before it is tagged
            yield r

    monkeypatch.setattr(Engine, "classify_files", swapping)
    args = ("--model", str(cnn_model), "--write-tags", "--min-confidence", "0", str(folder))
    code, rows, err = run_json(capsys, *args)
    assert code == 1
    assert f"{victim}: cannot write genre tag: the file changed since it was classified" in err
    assert genre_tag(victim) is None  # the old verdict is not written into the new file
    assert "4 written" in err and "1 could not be tagged" in err

    calls.clear()
    code, rows, err = run_json(capsys, *args)
    assert code == 0, err
    assert calls == [str(victim)]  # nor cached for it: decoded now, for its own verdict
    assert next(r for r in rows if r["path"] == str(victim))["duration"] == pytest.approx(5.0)
    assert genre_tag(victim) is not None and "1 written" in err


def test_a_locked_cache_costs_one_wait_and_one_warning(
    folder: Path, cnn_model: Path, app_home: Path, capsys, monkeypatch
) -> None:
    import sqlite3
    import time

    import mgr_desktop.inference.result_cache as rc
    from mgr_desktop.inference.result_cache import ResultCache

    args = ("--model", str(cnn_model), "--write-tags", "--min-confidence", "0", str(folder))
    run_json(capsys, "--model", str(cnn_model), str(folder))  # the cache exists
    monkeypatch.setattr(rc, "BUSY_TIMEOUT_S", 0.5)
    waited: list[float] = []  # time spent in the cache's own calls, busy waits included
    for method in ("use_model", "contains", "get", "put"):
        original = getattr(ResultCache, method)

        def timed(self, *a, _original=original, **kw):
            start = time.monotonic()
            try:
                return _original(self, *a, **kw)
            finally:
                waited.append(time.monotonic() - start)

        monkeypatch.setattr(ResultCache, method, timed)
    other = sqlite3.connect(app_home / "cache" / "results.sqlite", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another program holds it locked
    try:
        code, rows, err = run_json(capsys, *args)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert code == 0, err
    assert len(rows) == 5 and "5 written" in err
    assert err.count("result cache") == 1 and "busy" in err
    assert sum(waited) < 2 * 0.5  # one busy wait for the run, not one (or two) per file
