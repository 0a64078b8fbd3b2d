"""Heads on sets of right answers and the open-set decision, on generated embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mgr_desktop.train.set_valued import fit_linear, fit_temperature, logits_of, set_nll, softmax
from mgr_desktop.verdict import decide

LABELS = ["jazz", "pop", "rock", "other"]


def clusters(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Embeddings of three genres (tight clusters), a "pop or rock" group between two of them,
    and music outside all three (a cluster of its own). Returns (x, right, kind)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (4, 16))
    x, right, kind = [], [], []
    for g in range(4):  # jazz, pop, rock, outside
        x.append(centres[g] + rng.normal(0, 1, (n, 16)))
        r = np.zeros((n, 4), bool)
        r[:, g] = True
        right.append(r)
        kind += ["outside" if g == 3 else "in"] * n
    between = (centres[1] + centres[2]) / 2 + rng.normal(0, 1, (n, 16))
    r = np.zeros((n, 4), bool)
    r[:, [1, 2]] = True  # AllMusic's pop/rock: either is right
    x.append(between)
    right.append(r)
    kind += ["in"] * n
    return np.concatenate(x), np.concatenate(right), np.array(kind)


def test_set_nll_is_cross_entropy_for_one_answer_and_lower_for_more() -> None:
    z = torch.tensor([[2.0, 0.5, -1.0, 0.0]])
    one = torch.tensor([[False, True, False, False]])
    two = torch.tensor([[False, True, True, False]])
    ce = torch.nn.functional.cross_entropy(z, torch.tensor([1]))
    assert float(set_nll(z, one)[0]) == pytest.approx(float(ce))
    p = torch.softmax(z, -1)[0]
    assert float(set_nll(z, two)[0]) == pytest.approx(-float(torch.log(p[1] + p[2])))


def test_a_head_on_generated_embeddings_accepts_its_genres_and_rejects_the_rest() -> None:
    x, right, _ = clusters(60, seed=1)
    head = fit_linear(x, right, np.ones(len(x)), l2=0.01)
    xt, rt, kt = clusters(40, seed=1)  # same centres, new draws
    xt += np.random.default_rng(7).normal(0, 0.1, xt.shape)
    p = softmax(logits_of(xt, head))
    verdicts = [decide(row, LABELS, "other") for row in p]
    outside = np.array([v.outside for v in verdicts])
    assert outside[kt == "outside"].mean() >= 0.95  # music outside its genres: no genre
    assert outside[kt == "in"].mean() <= 0.05  # its own genres are still accepted
    right_genre = [
        v.genre is not None and rt[i, LABELS.index(v.genre)]
        for i, v in enumerate(verdicts)
        if kt[i] == "in"
    ]
    assert np.mean(right_genre) >= 0.95
    assert all(v.closest in LABELS[:3] for v in verdicts)


def test_the_temperature_undoes_overconfident_logits() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 4000)
    z = rng.normal(0, 1, (4000, 3))
    z[np.arange(4000), truth] += 1.0  # calibrated at T = 1
    right = np.zeros((4000, 3), bool)
    right[np.arange(4000), truth] = True
    assert fit_temperature(z * 3, right) == pytest.approx(3.0, rel=0.15)


def test_rows_without_a_right_answer_are_refused() -> None:
    with pytest.raises(ValueError, match="right answer"):
        fit_linear(np.zeros((2, 3)), np.zeros((2, 4), bool), np.ones(2), 0.1)


def test_decide_says_outside_at_the_threshold_even_when_a_genre_leads() -> None:
    d = decide([0.45, 0.15, 0.0, 0.40], LABELS, "other", outside_at=0.4)
    assert (d.genre, d.outside, d.closest) == (None, True, "jazz")
    assert d.confidence == pytest.approx(0.45)
    kept = decide([0.45, 0.15, 0.0, 0.40], LABELS, "other", outside_at=0.5)
    assert (kept.genre, kept.outside) == ("jazz", False)
    assert kept.genre_probs.tolist() == pytest.approx([0.45, 0.15, 0.0])
    led = decide(np.array([0.2, 0.1, 0.05, 0.3]), LABELS, "other", outside_at=0.5)
    assert led.outside is True  # a plain bool (JSON must write it), not numpy's
    assert kept.outside is False
    closed = decide([0.2, 0.5, 0.3], LABELS[:3])  # a model without an outside label
    assert (closed.genre, closed.outside, closed.outside_probability) == ("pop", False, 0.0)
