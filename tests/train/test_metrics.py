"""Accuracy, F1 and the confusion matrix against predictions made by hand.

Five tracks over three genres x, y, z (true -> predicted): x -> x, x -> y, y -> y, z -> y,
z -> z. Every expected number below was worked out on paper from that table.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from mgr_desktop.train.metrics import Evaluation, evaluation_from_window_logp

LABELS = ["x", "y", "z"]
X, Y, Z = 0, 1, 2


def _windows(*probs: list[float]) -> np.ndarray:
    return np.log(np.array(probs, dtype=np.float64))


# Each track's window probabilities; each window's own vote is its largest entry.
TRACKS = [
    _windows([0.7, 0.2, 0.1], [0.6, 0.3, 0.1]),  # x: both windows x -> track x
    _windows([0.2, 0.7, 0.1]),  # x: window y -> track y
    # y: windows y and x; geometric means x sqrt(.05) = .22, y sqrt(.32) = .57 -> track y
    _windows([0.1, 0.8, 0.1], [0.5, 0.4, 0.1]),
    _windows([0.1, 0.6, 0.3]),  # z: window y -> track y
    _windows([0.1, 0.1, 0.8]),  # z: window z -> track z
]
TARGETS = [X, X, Y, Z, Z]


@pytest.fixture
def report() -> dict:
    return evaluation_from_window_logp(TRACKS, TARGETS, LABELS).report()


def test_track_and_window_accuracy(report: dict) -> None:
    assert report["track_accuracy"] == pytest.approx(3 / 5)  # tracks 0, 2 and 4
    assert report["segment_accuracy"] == pytest.approx(4 / 7)  # 2 + 0 + 1 + 0 + 1 of 7 windows
    assert (report["tracks"], report["windows"]) == (5, 7)


def test_confusion_matrix_rows_are_the_truth(report: dict) -> None:
    assert report["labels"] == LABELS
    assert report["confusion"] == [
        [1, 1, 0],  # x: one right, one called y
        [0, 1, 0],  # y: right
        [0, 1, 1],  # z: one called y, one right
    ]


def test_per_class_precision_recall_f1_and_macro_f1(report: dict) -> None:
    per = report["per_class"]
    # x: predicted once, right once (P 1); 2 true x, 1 found (R 1/2); F1 2PR/(P+R) = 2/3
    assert per["x"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    # y: predicted 3 times, right once (P 1/3); its one track found (R 1); F1 = 1/2
    assert per["y"] == pytest.approx({"precision": 1 / 3, "recall": 1.0, "f1": 0.5, "support": 1})
    # z: as x
    assert per["z"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert report["macro_f1"] == pytest.approx((2 / 3 + 1 / 2 + 2 / 3) / 3)  # 11/18


def test_loss_is_the_mean_window_cross_entropy(report: dict) -> None:
    # the true genre's probability in each of the 7 windows
    true_probs = [0.7, 0.6, 0.2, 0.8, 0.4, 0.3, 0.8]
    assert report["loss"] == pytest.approx(-np.log(np.prod(true_probs)) / 7)  # 0.7205
    assert report["loss"] == pytest.approx(0.7205, abs=1e-4)


def test_report_of_predictions_given_directly() -> None:
    """Evaluation.report() on its own: two tracks, both wrong; windows all right."""
    ev = Evaluation(
        labels=["a", "b"],
        track_true=np.array([0, 1]),
        track_pred=np.array([1, 0]),
        window_true=np.array([0, 0, 1]),
        window_pred=np.array([0, 0, 1]),
        loss=0.25,
    )
    r = ev.report()
    assert (r["track_accuracy"], r["segment_accuracy"], r["macro_f1"]) == (0.0, 1.0, 0.0)
    assert r["confusion"] == [[0, 1], [1, 0]]
    assert r["loss"] == 0.25


def test_no_tracks_scores_zero_rather_than_nan() -> None:
    empty = np.zeros(0, np.int64)
    ev = Evaluation(LABELS, empty, empty, empty, empty, 0.0)
    assert (ev.track_accuracy, ev.segment_accuracy) == (0.0, 0.0)


def test_macro_f1_averages_over_the_genres_in_the_true_labels() -> None:
    """A genre of the model that no track belongs to and none is called (w) has no F1 to
    average: the same tracks score the same macro F1 whatever else the model knows."""
    report = evaluation_from_window_logp(TRACKS, TARGETS, [*LABELS, "w"]).report()
    assert report["macro_f1"] == pytest.approx((2 / 3 + 1 / 2 + 2 / 3) / 3)  # 11/18, not 11/24
    assert report["macro_f1_genres"] == LABELS
    assert report["per_class"]["w"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_a_genre_only_predicted_costs_recall_but_is_not_averaged() -> None:
    """true a, a, b -> predicted a, c, b: c is called once but no track is c. Its false
    positive shows as a's recall (1/2) and c's precision (0); the mean is over a and b."""
    pred = np.array([0, 2, 1])
    ev = Evaluation(["a", "b", "c"], np.array([0, 0, 1]), pred, pred, pred, 0.0)
    r = ev.report()
    assert r["per_class"]["a"]["f1"] == pytest.approx(2 / 3)  # P 1, R 1/2
    assert r["per_class"]["b"]["f1"] == 1.0
    assert r["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert r["macro_f1"] == pytest.approx((2 / 3 + 1) / 2)  # 5/6, not 5/9
    assert r["macro_f1_genres"] == ["a", "b"]


def test_no_tracks_give_an_empty_evaluation() -> None:
    """An empty test subset (the fault-filtered split of a folder without its test tracks)
    scores as an empty evaluation, not numpy's 'need at least one array to concatenate'."""
    ev = evaluation_from_window_logp([], [], LABELS)
    r = ev.report()
    assert (r["tracks"], r["windows"], r["loss"]) == (0, 0, 0.0)
    assert (r["track_accuracy"], r["segment_accuracy"], r["macro_f1"]) == (0.0, 0.0, 0.0)
    assert r["macro_f1_genres"] == []
    assert r["confusion"] == [[0, 0, 0]] * 3
    json.dumps(r, allow_nan=False)  # what `evaluate --format json` prints


def test_tracks_and_targets_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="2 tracks but 1 targets"):
        evaluation_from_window_logp(TRACKS[:2], TARGETS[:1], LABELS)


def test_per_genre_scores_are_sklearns() -> None:
    """The report counts by hand from its confusion matrix; sklearn must agree on every case."""
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

    rng = np.random.default_rng(5)
    labels = [f"g{i}" for i in range(5)]
    for _ in range(50):
        n = int(rng.integers(1, 30))
        true, pred = rng.integers(0, 5, n), rng.integers(0, 5, n)
        rep = Evaluation(labels, true, pred, true, pred, 0.0).report()
        p, r, f, s = precision_recall_fscore_support(
            true, pred, labels=list(range(5)), zero_division=0.0
        )
        per = rep["per_class"]
        assert [per[g]["precision"] for g in labels] == pytest.approx(list(p))
        assert [per[g]["recall"] for g in labels] == pytest.approx(list(r))
        assert [per[g]["f1"] for g in labels] == pytest.approx(list(f))
        assert [per[g]["support"] for g in labels] == list(s)
        assert rep["confusion"] == confusion_matrix(true, pred, labels=list(range(5))).tolist()
        present = sorted(set(true.tolist()))
        assert rep["macro_f1"] == pytest.approx(
            f1_score(true, pred, labels=present, average="macro", zero_division=0.0)
        )
