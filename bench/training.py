"""Training throughput in the setting of torchdiffeq's latent ODE example, ours against theirs.

Run from the repository root::

    .venv/bin/python bench/training.py            # 3 timed steps each after a warm-up
    .venv/bin/python bench/training.py --steps 1
    python bench/training.py --device cuda   # on a GPU machine

The example: 1,000 spirals of 100 points (Chen et al.: noise 0.3), latent 4, dynamics
4 -> 20 -> 20 -> 4 with ELU, an RNN encoder of 25 units read backwards, a 4 -> 20 -> 2 decoder,
full batch, dopri5 at torchdiffeq's defaults (rtol 1e-7, atol 1e-9). One training step is the
encoder, a reparameterised z0, the ODE solve over the 100 times, the Gaussian likelihood with KL,
backward and an Adam step. The same step runs with the solve done by our ``odeint_adjoint``
(discrete mode, the latent ODE's default) and by ``torchdiffeq.odeint_adjoint``, in one process
on the same weights and data; it prints one JSON line per solver and the ratio (target <= 0.1).
Backpropagation through torchdiffeq's ``odeint`` is timed too, for reference.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
import torchdiffeq
from torch import nn

from models.ode import odeint_adjoint
from models.synthetic import spirals

N_SERIES, N_POINTS, LATENT, HIDDEN, RNN_UNITS = 1000, 100, 4, 20, 25
NOISE_STD = 0.3
TARGET = 0.1

Solve = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


class Dynamics(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(LATENT, HIDDEN),
            nn.ELU(),
            nn.Linear(HIDDEN, HIDDEN),
            nn.ELU(),
            nn.Linear(HIDDEN, LATENT),
        )

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Example(nn.Module):
    """The example's model: RNN encoder, ODE dynamics, MLP decoder."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.RNNCell(2 + 1, RNN_UNITS)
        self.to_posterior = nn.Linear(RNN_UNITS, 2 * LATENT)
        self.dynamics = Dynamics()
        self.decoder = nn.Sequential(nn.Linear(LATENT, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 2))

    def loss(self, values: torch.Tensor, times: torch.Tensor, solve: Solve) -> torch.Tensor:
        hidden = values.new_zeros(values.shape[0], RNN_UNITS)
        gaps = torch.diff(times, prepend=times[:1]).to(values)
        for i in reversed(range(values.shape[1])):
            step = torch.cat([values[:, i], gaps[i].expand(values.shape[0], 1)], dim=1)
            hidden = self.rnn(step, hidden)
        mean, log_std = self.to_posterior(hidden).chunk(2, dim=-1)
        z0 = mean + torch.exp(log_std) * torch.randn_like(mean)
        z = solve(self.dynamics, z0, times).permute(1, 0, 2)  # [B, T, L]
        predicted = self.decoder(z)
        nll = 0.5 * (((values - predicted) / NOISE_STD) ** 2).sum((1, 2))
        kl = 0.5 * (mean**2 + torch.exp(2 * log_std) - 1 - 2 * log_std).sum(-1)
        return (nll + kl).mean()


def ours(dynamics: nn.Module, z0: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    return odeint_adjoint(dynamics, z0, times, adjoint_options={"mode": "discrete"})


def theirs(dynamics: nn.Module, z0: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    return torchdiffeq.odeint_adjoint(dynamics, z0, times)


def theirs_backprop(dynamics: nn.Module, z0: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    return torchdiffeq.odeint(dynamics, z0, times)


def data() -> tuple[torch.Tensor, torch.Tensor]:
    """Chen's setting: every series on the same 100 times (the example's full batch)."""
    dataset = spirals(N_SERIES, n_points=N_POINTS, noise=NOISE_STD, missing=0.0, seed=0)
    times = torch.linspace(0.0, 0.6 * np.pi, N_POINTS, dtype=torch.float64)
    # The example's series share one time grid; resample each series' spiral onto it.
    values = np.stack(
        [
            np.stack([np.interp(times.numpy(), s.times, s.values[:, d]) for d in range(2)], 1)
            for s in dataset.series
        ]
    )
    return torch.as_tensor(values, dtype=torch.float32), times


def time_steps(model: Example, solve: Solve, steps: int, device: torch.device) -> list[float]:
    values, times = (tensor.to(device) for tensor in data())
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    durations = []
    for _ in range(steps + 1):  # the first is a warm-up
        started = time.perf_counter()
        loss = model.loss(values, times, solve)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if device.type == "cuda":  # kernels run asynchronously: wait for the step's last one
            torch.cuda.synchronize(device)
        durations.append(time.perf_counter() - started)
    return durations[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per solver")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:N")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Example()
    medians = {}
    solvers = (
        ("ours_discrete_adjoint", ours),
        ("torchdiffeq_odeint_adjoint", theirs),
        ("torchdiffeq_backprop", theirs_backprop),  # for reference, not checked
    )
    for name, solve in solvers:
        torch.manual_seed(1)
        durations = time_steps(copy.deepcopy(model), solve, args.steps, device)
        medians[name] = statistics.median(durations)
        print(json.dumps({"solver": name, "step_s": [round(d, 3) for d in durations]}), flush=True)
    ratio = medians["ours_discrete_adjoint"] / medians["torchdiffeq_odeint_adjoint"]
    summary = {"ratio": round(ratio, 4), "target": f"<= {TARGET}", "ok": ratio <= TARGET}
    run = {"summary": summary, "threads": args.threads, "device": str(device)}
    print(json.dumps(run), flush=True)


if __name__ == "__main__":
    main()
