"""`mgr-desktop evaluate`: its text report, models whose labels come in another order, and the
models and folders it refuses."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mgr_desktop.models.checkpoint import load_model, save_model
from tests.helpers import make_model_file


def evaluate(model: Path, data: Path, cache: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mgr_desktop", "evaluate", "--model", str(model), "--data",
         str(data), "--device", "cpu", "--split", "all", *extra],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.fixture(scope="module")
def json_report(trained_model: Path, small_corpus: Path, feature_cache: Path) -> dict:
    proc = evaluate(trained_model, small_corpus, feature_cache, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_text_report_says_what_the_json_says(
    trained_model: Path, small_corpus: Path, feature_cache: Path, json_report: dict
) -> None:
    proc = evaluate(trained_model, small_corpus, feature_cache)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    r = json_report
    assert r["tracks"] == 24  # --split all: every track of the 4 x 6 corpus
    assert lines[0] == (
        f"24 tracks (all split): track accuracy {r['track_accuracy']:.3f}, window accuracy "
        f"{r['segment_accuracy']:.3f}, macro F1 {r['macro_f1']:.3f} (mean over the 4 genres "
        "present)"
    )
    assert lines[1].split() == ["genre", "precision", "recall", "f1", "tracks"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    assert set(rows) == {lab for lab, m in r["per_class"].items() if m["support"]}
    for lab, (p, rec, f1, support) in rows.items():
        m = r["per_class"][lab]
        assert (p, rec, f1) == (f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}")
        assert int(support) == m["support"] == 6


def test_a_model_with_its_labels_in_another_order_scores_the_same(
    trained_model: Path, small_corpus: Path, feature_cache: Path, json_report: dict, tmp_path
) -> None:
    """The same network with its output rows and its label list shuffled alike: the data's
    genres are matched by name, so every score is the same, reported in the model's order."""
    loaded = load_model(trained_model)
    perm = [2, 0, 3, 1]
    last = loaded.model.head[-1]
    with torch.no_grad():
        last.weight.copy_(last.weight[perm])
        last.bias.copy_(last.bias[perm])
    labels = tuple(loaded.info.labels[i] for i in perm)
    shuffled = tmp_path / "shuffled.safetensors"
    save_model(shuffled, loaded.model, dataclasses.replace(loaded.info, labels=labels))
    proc = evaluate(shuffled, small_corpus, feature_cache, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    got, want = json.loads(proc.stdout), json_report
    assert got["labels"] == list(labels) != want["labels"]
    for key in ("track_accuracy", "segment_accuracy", "macro_f1", "loss"):
        assert got[key] == pytest.approx(want[key], abs=1e-5), key
    assert got["per_class"].keys() == want["per_class"].keys()
    for lab, m in got["per_class"].items():
        assert m == pytest.approx(want["per_class"][lab], abs=1e-5), lab
    for i, row in enumerate(got["confusion"]):
        assert row == [want["confusion"][perm[i]][perm[j]] for j in range(len(perm))]


def test_a_model_that_does_not_know_the_folders_genres_is_refused(
    small_corpus: Path, feature_cache: Path, tmp_path: Path
) -> None:
    other = make_model_file(tmp_path / "other.safetensors", labels=("ambient", "blues", "gqom"))
    proc = evaluate(other, small_corpus, feature_cache)
    assert proc.returncode == 2 and proc.stdout == ""
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("mgr-desktop: error: the model does not know genre(s) ")
    assert "(it knows ambient, blues, gqom)" in last and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"this is not a model", "safetensors"),
        (b"", "safetensors"),
        (b"\x80\x04\x95" + b"\x00" * 64, "pickle"),  # a PyTorch .pt file: never unpickled
    ],
    ids=["text", "empty", "pickle"],
)
def test_a_bad_model_file_is_refused_in_one_line(
    small_corpus: Path, feature_cache: Path, tmp_path: Path, content: bytes, reason: str
) -> None:
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(content)
    proc = evaluate(bad, small_corpus, feature_cache)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("mgr-desktop: error: ") and str(bad) in line and reason in line


def test_a_folder_without_genres_is_refused(
    trained_model: Path, feature_cache: Path, tmp_path: Path
) -> None:
    proc = evaluate(trained_model, tmp_path, feature_cache)
    assert proc.returncode == 2 and "no genre folders" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_macro_f1_is_over_the_genres_the_tested_tracks_belong_to(
    trained_model: Path, small_corpus: Path, feature_cache: Path
) -> None:
    """The fault-filtered split's test subset of the 4 x 6 corpus is one disco track: the
    other three genres the model knows have no F1 to average, so macro F1 is disco's."""
    proc = evaluate(trained_model, small_corpus, feature_cache, "--split", "fault-filtered",
                    "--format", "json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["tracks"] == 1 and r["macro_f1_genres"] == ["disco"]
    assert r["macro_f1"] == r["per_class"]["disco"]["f1"]


def test_an_empty_test_subset_is_refused_in_one_line(
    trained_model: Path, small_corpus: Path, feature_cache: Path, tmp_path: Path
) -> None:
    """Without disco.00001, the corpus has no track of the fault-filtered test subset."""
    data = tmp_path / "data"
    shutil.copytree(small_corpus, data)
    (data / "genres_original" / "disco" / "disco.00001.wav").unlink()
    proc = evaluate(trained_model, data, feature_cache, "--split", "fault-filtered")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last == (
        "mgr-desktop: error: the fault-filtered split's test subset is empty for this folder"
    )


def test_evaluate_scores_exactly_what_classify_says(
    trained_model: Path, small_corpus: Path, tmp_path: Path
) -> None:
    """Same engine, same silence rule: evaluate's confusion matrix and segment count are
    classify's verdicts counted, on a corpus where one track is half silence."""
    import numpy as np
    import soundfile as sf

    data = tmp_path / "data"
    shutil.copytree(small_corpus, data)
    quiet = next((data / "genres_original" / "blues").glob("*.wav"))
    wave, sr = sf.read(quiet, dtype="float32")
    wave[len(wave) // 2 :] = 0.0  # its second half: no genre, and no vote
    sf.write(quiet, np.concatenate([wave, np.zeros(3 * sr, np.float32)]), sr)
    proc = evaluate(trained_model, data, tmp_path, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    said = subprocess.run(
        [sys.executable, "-m", "mgr_desktop", "classify", "--model", str(trained_model),
         "--device", "cpu", "--no-cache", "--format", "json", str(data)],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout  # fmt: skip
    labels = report["labels"]
    confusion = np.zeros((len(labels), len(labels)), int)
    audible = silent = 0
    for line in said.splitlines():
        r = json.loads(line)
        truth = Path(r["path"]).parent.name
        confusion[labels.index(truth), labels.index(r["genre"])] += 1
        audible += sum(s["genre"] is not None for s in r["segments"])
        silent += sum(s["genre"] is None for s in r["segments"])
    assert silent >= 1  # the silent half is there, and classify gives it no genre
    assert report["confusion"] == confusion.tolist()
    assert report["windows"] == audible and report["unscored"] == 0
    hits = int(np.trace(confusion))
    assert report["track_accuracy"] == pytest.approx(hits / confusion.sum())


def test_an_old_script_passing_cache_still_runs_and_is_told_it_is_unused(
    trained_model: Path, small_corpus: Path, feature_cache: Path
) -> None:
    proc = evaluate(trained_model, small_corpus, feature_cache, "--cache", str(feature_cache))
    assert proc.returncode == 0, proc.stderr
    assert "evaluate no longer uses --cache" in proc.stderr


def test_decoding_processes_give_the_report_that_threads_give(
    trained_model: Path, small_corpus: Path, feature_cache: Path, json_report: dict,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """The command decodes in a process forked before torch loads; in this process (torch
    loaded) the same command decodes in threads: the same verdicts, the same report."""
    from mgr_desktop.cli import main

    proc = evaluate(trained_model, small_corpus, feature_cache, "--format", "json", "-v")
    assert proc.returncode == 0, proc.stderr
    assert "decoding in 1 process" in proc.stderr
    code = main(["evaluate", "--model", str(trained_model), "--data", str(small_corpus),
                 "--device", "cpu", "--split", "all", "--format", "json"])  # fmt: skip
    assert code == 0
    threaded = json.loads(capsys.readouterr().out)
    assert threaded.keys() == json_report.keys()
    for key, value in json_report.items():
        if isinstance(value, float):
            assert threaded[key] == pytest.approx(value, abs=1e-6), key
        elif key == "per_class":
            for lab, m in value.items():
                assert threaded[key][lab] == pytest.approx(m, abs=1e-6), lab
        else:
            assert threaded[key] == value, key
