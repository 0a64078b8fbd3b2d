"""`classify` through the real command on the names real libraries hold: control characters,
quotes, formula starts, bidi overrides, emoji, a 255-byte name, and a name that is not UTF-8
at all (an old Windows or Samba copy). Every file gets exactly one record, the output stays
valid UTF-8 in every format, with the cache on and off, and tags are written."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import mutagen
import pytest

from mgr_desktop.safetext import csv_cell, printable, readable
from tests.helpers import tone, write

ODD_NAMES = [
    "new\nline.mp3", "tab\tname.mp3", "quo\"te's.mp3", "com,ma.mp3", "=SUM(A1).mp3",
    "back\\slash.mp3", "rtl \u202egnp.mp3", "emoji 🎵.mp3", "crlf\r\n.mp3", "esc\x1b[31m.mp3",
    " leading space.mp3", "semi;colon.mp3", "a" * 251 + ".mp3",
]  # fmt: skip
NOT_UTF8 = b"\xff\xfe-latin1-\xe9.mp3"  # os.fsdecode keeps these bytes as lone surrogates


def cli(*args: str, home: Path) -> subprocess.CompletedProcess[bytes]:
    """The real command; output as bytes, so that invalid UTF-8 is seen, not decoded away."""
    env = {**os.environ, "MGR_DESKTOP_HOME": str(home), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    return subprocess.run(
        [sys.executable, "-m", "mgr_desktop", *args], capture_output=True, timeout=300, env=env
    )


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("odd names") / "library"
    song = write(d.parent / "song.mp3", tone(4.0, 44100), 44100).read_bytes()
    d.mkdir()
    for name in ODD_NAMES:
        (d / name).write_bytes(song)
    with open(os.path.join(os.fsencode(d), NOT_UTF8), "wb") as f:
        f.write(song)
    return d


def all_files(library: Path) -> list[str]:
    return sorted(str(p) for p in library.iterdir())


@pytest.mark.parametrize(("fmt", "cache"), [("json", True), ("json", False), ("csv", True),
                                           ("csv", False), ("text", True)])  # fmt: skip
def test_every_name_gets_one_record_in_valid_utf8(
    library: Path, cnn_model: Path, tmp_path: Path, fmt: str, cache: bool
) -> None:
    args = ["classify", "--model", str(cnn_model), "--format", fmt, str(library)]
    proc = cli(*args, *([] if cache else ["--no-cache"]), home=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    out = proc.stdout.decode("utf-8")  # strict: a raw 0xff byte fails here
    files = all_files(library)
    if fmt == "json":
        rows = [json.loads(line) for line in out.splitlines()]
        assert sorted(r["path"] for r in rows) == sorted(readable(p) for p in files)
        assert all(r["genre"] and "error" not in r for r in rows)
        odd = [r for r in rows if "path_bytes" in r]
        assert len(odd) == 1, "only the name that is not UTF-8 carries its bytes"
        assert base64.b64decode(odd[0]["path_bytes"]) == os.fsencode(library) + b"/" + NOT_UTF8
        assert odd[0]["path"].endswith("/\\xff\\xfe-latin1-\\xe9.mp3")
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        assert sorted(r["path"] for r in rows) == sorted(csv_cell(p) for p in files)
        assert all(r["genre"] and not r["error"] for r in rows)
    else:
        lines = out.splitlines()
        assert len(lines) == len(files)
        for line, path in zip(lines, sorted(files, key=str.lower), strict=True):
            assert line.startswith(printable(path) + ": ") and "error" not in line
    if cache:  # every file remembered, the undecodable name too
        db = sqlite3.connect(tmp_path / "cache" / "results.sqlite")
        assert db.execute("SELECT count(*) FROM results").fetchone()[0] == len(files)
        db.close()
        again = cli(*args, home=tmp_path)
        assert again.returncode == 0 and again.stdout == proc.stdout


def test_names_given_as_arguments_are_tagged(
    library: Path, cnn_model: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    names = [os.fsencode(n) for n in ODD_NAMES] + [NOT_UTF8]
    paths = []
    for raw in names:
        target = os.path.join(os.fsencode(copy), raw)
        with open(target, "wb") as f:
            f.write((library / os.fsdecode(raw)).read_bytes())
        paths.append(os.fsdecode(target))
    proc = cli("classify", "--model", str(cnn_model), "--format", "json", "--write-tags",
               "--min-confidence", "0", *paths, home=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    rows = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]
    assert [r["path"] for r in rows] == [readable(p) for p in paths]
    for p in paths:
        audio = mutagen.File(p)
        assert audio is not None and audio.tags is not None, printable(p)
        assert audio.tags.getall("TCON"), printable(p)
