"""The run lifecycle the full network, the probe and distillation share: clip-then-step, the
epoch's batches and stop, the best epoch on validation; and that all three go through it."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest
import torch
from torch import nn

import mgr_desktop.train
from mgr_desktop.train import events as ev
from mgr_desktop.train.lifecycle import BestEpoch, Optimiser, TrainEpoch
from mgr_desktop.train.recipe import TrainConfig

TRAIN = Path(mgr_desktop.train.__file__).parent


def _stepped(
    clip_value: float | None, clip_norm: float | None
) -> tuple[nn.Linear, Optimiser, float]:
    """A linear layer after one step on a loss with huge gradients; the rate that step used."""
    torch.manual_seed(0)
    model = nn.Linear(8, 3)
    config = TrainConfig(
        arch="cnn", epochs=2, max_lr=1e-2, clip_value=clip_value, clip_norm=clip_norm
    )
    opt = Optimiser.for_run(model.parameters(), config, steps_per_epoch=5)
    lr = opt.step(1000.0 * model(torch.randn(16, 8)).pow(2).mean())
    return model, opt, lr


def test_clipping_by_value_bounds_every_gradient_entry() -> None:
    model, _, _ = _stepped(clip_value=0.01, clip_norm=None)
    grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    assert grads.abs().max() <= 0.01 + 1e-9
    assert grads.abs().max() == pytest.approx(0.01)  # they were larger: clipping happened


def test_clipping_by_norm_bounds_the_total_norm() -> None:
    model, _, _ = _stepped(clip_value=None, clip_norm=0.5)
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert float(torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads]))) == (
        pytest.approx(0.5, rel=1e-4)
    )


def test_without_clipping_the_gradients_stay_large_and_the_schedule_moves_on() -> None:
    model, opt, lr = _stepped(clip_value=None, clip_norm=None)
    assert max(float(p.grad.abs().max()) for p in model.parameters() if p.grad is not None) > 1
    assert lr == pytest.approx(1e-2 / 25)  # OneCycle starts at max_lr / 25 ...
    assert opt.lr > lr  # ... and warms up: the step moved the schedule


def test_an_epoch_stops_within_one_batch_and_says_where() -> None:
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    opt = Optimiser.for_run(model.parameters(), TrainConfig(arch="cnn", epochs=1), 6)
    stop, seen = threading.Event(), []
    training = TrainEpoch(opt, 0, 6, 1, seen.append, stop, first=1)  # a resume at batch 1
    trained = []
    for b in training:
        training.step(model(torch.randn(3, 4)).sum())
        trained.append(b)
        if b == 3:
            stop.set()
    assert trained == [1, 2, 3] and training.stopped_at == 4
    assert isinstance(seen[0], ev.EpochStarted) and seen[0].batches == 6
    assert [e.batch for e in seen if isinstance(e, ev.BatchProgress)] == [1, 2, 3]


def _offer_epochs(best: BestEpoch, model: nn.Module, scores: list[tuple[float, float]]) -> None:
    """Epoch i sets every weight to i, then is scored (accuracy, loss)."""
    for epoch, (accuracy, loss) in enumerate(scores):
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(float(epoch))
        best.offer(model, epoch, accuracy, loss)


SCORES = [(0.5, 1.0), (0.7, 0.9), (0.7, 0.8), (0.6, 0.1)]


@pytest.mark.parametrize(("lower_loss", "kept"), [(True, 3), (False, 2)])
def test_the_best_epoch_keeps_its_own_weights(lower_loss: bool, kept: int) -> None:
    """A tie in accuracy goes to the lower loss (probe, distillation) or stays with the earlier
    epoch (the loop); later epochs do not change the copy kept."""
    model = nn.Linear(2, 2)
    best = BestEpoch(ties_to_lower_loss=lower_loss)
    _offer_epochs(best, model, SCORES)
    assert (best.epoch, best.accuracy) == (kept, 0.7)
    assert best.restore(model)
    assert all(bool((p == kept - 1).all()) for p in model.parameters())


def test_without_validation_the_last_epoch_is_kept() -> None:
    model, best = nn.Linear(2, 2), BestEpoch()
    assert not best.restore(model)  # nothing kept yet
    for epoch in range(3):
        best.keep_last(model, epoch)
    assert best.epoch == 3 and best.accuracy == -1.0 and best.weights is not None


def _names(path: Path) -> set[str]:
    """Every name a module uses, `a.b.c` as 'c'."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.Name):
            names.add(node.id)
    return names


def test_only_the_lifecycle_builds_the_optimiser_and_clips() -> None:
    """The three runs supply batches and loss; none keeps its own copy of the skeleton."""
    skeleton = {"AdamW", "OneCycleLR", "clip_grad_value_", "clip_grad_norm_"}
    owners = {rel.name for rel in TRAIN.glob("*.py") if _names(rel) & skeleton}
    assert owners == {"lifecycle.py"}
    for run in ("loop.py", "probe.py", "distill.py"):
        assert {"Optimiser", "TrainEpoch", "BestEpoch"} <= _names(TRAIN / run), run
