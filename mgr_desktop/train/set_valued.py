"""Linear heads trained on *sets* of right answers, for real music's tags and the open set.

A track's tags often allow several genres (AllMusic's "pop/rock" is pop, rock or metal), and a
track outside every genre has the one answer "other". The likelihood of a set is the
probability given to any of its members: -log sum_{k in right} p_k, plain cross-entropy when
the set has one member. Convex in a linear head, so it is fitted by L-BFGS with an L2 penalty
and nothing to schedule; the temperature is a 1-D search. No Qt here.
"""

from __future__ import annotations

import numpy as np
import torch

Head = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # mean, scale, weight, bias


def set_nll(logits: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """-log of the probability given to any right answer, per row."""
    return torch.logsumexp(logits, -1) - torch.logsumexp(logits.masked_fill(~right, -1e30), -1)


def fit_linear(
    x: np.ndarray, right: np.ndarray, weight: np.ndarray, l2: float, iters: int = 150
) -> Head:
    """Set-valued softmax regression on standardised features: (mean, scale, W, b) with
    logits = ((x - mean) / scale) W^T + b. `weight`: each row's share of the loss."""
    if not right.any(1).all():
        raise ValueError("every row needs at least one right answer")
    mean, scale = x.mean(0), np.clip(x.std(0), 1e-3, None)
    xs = torch.from_numpy((x - mean) / scale).double()
    r = torch.from_numpy(right)
    w = torch.from_numpy(weight / weight.sum()).double()
    lin = torch.nn.Linear(x.shape[1], right.shape[1]).double()
    torch.nn.init.zeros_(lin.weight)
    torch.nn.init.zeros_(lin.bias)
    opt = torch.optim.LBFGS(lin.parameters(), max_iter=iters, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-9, tolerance_change=1e-12)  # fmt: skip

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (set_nll(lin(xs), r) * w).sum() + l2 * lin.weight.pow(2).sum() / 2
        loss.backward()
        return loss

    opt.step(closure)  # type: ignore[arg-type]
    return mean, scale, lin.weight.detach().numpy().copy(), lin.bias.detach().numpy().copy()


def logits_of(x: np.ndarray, head: Head) -> np.ndarray:
    mean, scale, w, b = head
    return ((x - mean) / scale) @ w.T + b


def fit_temperature(z: np.ndarray, right: np.ndarray) -> float:
    """The temperature minimising the set-valued NLL of held-out logits (0.2 to 10)."""
    zt, rt = torch.from_numpy(np.asarray(z, np.float64)), torch.from_numpy(right)
    grid = np.exp(np.linspace(np.log(0.2), np.log(10), 300))
    losses = [float(set_nll(zt / t, rt).mean()) for t in grid]
    return float(grid[int(np.argmin(losses))])


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)
