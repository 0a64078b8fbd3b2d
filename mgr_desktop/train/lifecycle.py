"""The run lifecycle every training run shares: the full network (`train.loop`), the head on a
frozen backbone (`train.probe`) and distillation (`train.distill`) each supply only their
batches, loss and evaluation; these pieces do the rest.

- `build_seeded`: the model, its initial weights drawn from the run's seed.
- `Optimiser`: AdamW on a OneCycle schedule over the whole run, the recipe's gradient clipping
  (by value, else by norm), mixed-precision scaling where the loop asks for it.
- `TrainEpoch`: one epoch's batches; stops within one batch when asked, reports each batch.
- `BestEpoch`: the best epoch on validation and a copy of its weights.
- `evaluate_part`: the validation or test tracks scored as the app will score them.
- `calibrate_and_test` and `finish`: the end of a run whose model is saved.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from mgr_desktop.models.registry import build_model, get_architecture
from mgr_desktop.train.calibrate import fit_temperature
from mgr_desktop.train.distributed import Dist
from mgr_desktop.train.evaluation import evaluate, window_logp_per_track
from mgr_desktop.train.events import (
    BatchProgress,
    EpochStarted,
    EventSink,
    FitFinished,
    Message,
    TestMeasured,
)
from mgr_desktop.train.runs import MODEL_FILE, RunResult, write_metrics

if TYPE_CHECKING:
    from mgr_desktop.train.data import TrainData
    from mgr_desktop.train.metrics import Evaluation
    from mgr_desktop.train.recipe import TrainConfig


def build_seeded(
    config: TrainConfig, n_labels: int, device: torch.device, **options: object
) -> nn.Module:
    """`config.arch` on `device`; its initial weights, too, come from the run's seed."""
    torch.manual_seed(config.seed)
    return build_model(config.arch, n_labels, **options).to(device)


def stop_requested(stop: threading.Event | None) -> bool:
    return stop is not None and stop.is_set()


@dataclass
class Optimiser:
    """AdamW on a OneCycle schedule over every step of the run, with the recipe's clipping."""

    params: list[nn.Parameter]  # what it trains, and what clipping applies to
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.OneCycleLR
    clip_value: float | None = None
    clip_norm: float | None = None
    scaler: torch.amp.GradScaler | None = None  # fp16 on CUDA only; set by the loop

    @classmethod
    def for_run(
        cls, params: Iterable[nn.Parameter], config: TrainConfig, steps_per_epoch: int
    ) -> Optimiser:
        params = list(params)
        optimizer = torch.optim.AdamW(params, lr=config.peak_lr, weight_decay=config.weight_decay)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.peak_lr, total_steps=config.epochs * steps_per_epoch
        )
        return cls(params, optimizer, scheduler, config.clip_value, config.clip_norm)

    @property
    def lr(self) -> float:
        """The learning rate the next step uses."""
        return float(self.scheduler.get_last_lr()[0])  # typed float | Tensor; a float here

    def step(self, loss: torch.Tensor) -> float:
        """Backward, clip, one optimiser step and one schedule step; the rate this step used."""
        lr, optimizer, scaler = self.lr, self.optimizer, self.scaler
        optimizer.zero_grad(set_to_none=True)
        if scaler:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
        else:
            loss.backward()
        if self.clip_value is not None:
            nn.utils.clip_grad_value_(self.params, self.clip_value)
        elif self.clip_norm is not None:
            nn.utils.clip_grad_norm_(self.params, self.clip_norm)
        if scaler:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        self.scheduler.step()
        return lr


@dataclass
class TrainEpoch:
    """One epoch's batches, from `first`: `for b in epoch` yields batch numbers, and the
    caller gives each batch's loss to `epoch.step`. Announces the epoch, reports every batch,
    and ends early when `stop` is set; `stopped_at` then names the batch not trained."""

    optimiser: Optimiser
    epoch: int
    n_batches: int
    epochs: int
    emit: EventSink
    stop: threading.Event | None
    first: int = 0
    stopped_at: int | None = field(default=None, init=False)
    batch: int = field(default=0, init=False)  # the batch being trained
    started: float = field(default=0.0, init=False)

    def __iter__(self) -> Iterator[int]:
        self.emit(EpochStarted(self.epoch, self.epochs, self.n_batches))
        self.started = time.perf_counter()
        for b in range(self.first, self.n_batches):
            if stop_requested(self.stop):
                self.stopped_at = b
                return
            self.batch = b
            yield b

    def step(self, loss: torch.Tensor) -> float:
        """Train on the current batch's loss and report it; its value."""
        lr = self.optimiser.step(loss)
        value = float(loss.detach())
        self.emit(BatchProgress(self.epoch, self.batch, self.n_batches, value, lr,
                                time.perf_counter() - self.started))  # fmt: skip
        return value


@dataclass
class BestEpoch:
    """The best epoch on validation so far: its track accuracy, 1-based number and weights.
    A tie in accuracy goes to the lower validation loss, or with `ties_to_lower_loss=False`
    stays with the earlier epoch (the loop's rule, which its state file keeps no loss for)."""

    accuracy: float = -1.0
    epoch: int = 0
    loss: float = math.inf
    weights: dict[str, torch.Tensor] | None = None
    ties_to_lower_loss: bool = True

    def offer(self, model: nn.Module, epoch: int, accuracy: float, loss: float) -> bool:
        """Keep `model`'s weights when 0-based `epoch` beats the best so far; whether it did."""
        tie = accuracy == self.accuracy and self.ties_to_lower_loss and loss < self.loss
        if not (accuracy > self.accuracy or tie):
            return False
        self.accuracy, self.loss = accuracy, loss
        self.keep_last(model, epoch)
        return True

    def keep_last(self, model: nn.Module, epoch: int) -> None:
        """Keep 0-based `epoch` whatever it scored (nothing to validate on)."""
        self.epoch = epoch + 1
        self.weights = copy.deepcopy(model.state_dict())

    def restore(self, model: nn.Module) -> bool:
        """Load the kept weights into `model`; False when none were kept in this session."""
        if self.weights is None:
            return False
        model.load_state_dict(self.weights)
        return True


def evaluate_part(
    model: nn.Module,
    data: TrainData,
    config: TrainConfig,
    device: torch.device,
    part: str,
    d: Dist | None = None,
    temperature: float = 1.0,
) -> Evaluation:
    """`model` on the `part` ("valid" or "test") tracks, every segment at the recipe's hop,
    the verdict from the track head where the architecture has one."""
    feats, targets = data.arrays(part)
    return evaluate(model, feats, targets, data.labels, data.features_cfg, device,
                    config.eval_hop_seconds, d, temperature=temperature,
                    track_head=get_architecture(config.arch).track_head)  # fmt: skip


def calibrate_and_test(
    model: nn.Module,
    data: TrainData,
    config: TrainConfig,
    device: torch.device,
    emit: EventSink,
    d: Dist | None = None,
    temperature: float | None = None,
) -> tuple[float, dict[str, Any] | None]:
    """One temperature fitted on the validation tracks (without any: `temperature`, else 1),
    then the test, once, at that temperature. The test report is None without a test subset.
    Chosen and calibrated on validation, never on test."""
    d = d or Dist()
    valid_x, valid_y = data.arrays("valid")
    if valid_x:
        logp = window_logp_per_track(model, valid_x, valid_y, data.labels, data.features_cfg,
                                     device, config.eval_hop_seconds, d,
                                     get_architecture(config.arch).track_head)  # fmt: skip
        temperature = fit_temperature(logp, valid_y)
    temperature = 1.0 if temperature is None else temperature
    if not data.split.test:
        emit(Message("no test subset: the test was not measured"))
        return temperature, None
    return temperature, evaluate_part(model, data, config, device, "test", d, temperature).report()


def finish(
    out: Path,
    emit: EventSink,
    metrics: dict[str, Any],
    report: dict[str, Any] | None,
    d: Dist | None = None,
) -> RunResult:
    """The end of a run whose model is saved: its metrics written (by rank 0), the test and
    the end announced."""
    d = d or Dist()
    if d.is_main:
        write_metrics(out, metrics)
    d.barrier()
    if report is not None:
        emit(TestMeasured(report))
    emit(FitFinished(str(out), str(out / MODEL_FILE)))
    return RunResult("finished", out, metrics)
