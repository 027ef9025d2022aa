"""Benchmark of the ``models.ode`` solvers against torchdiffeq 0.2.5 on a latent-ODE-like workload.

Run from the repository root::

    .venv/bin/python bench/solvers.py                 # CPU, full repeats
    .venv/bin/python bench/solvers.py --quick         # fewer repeats
    .venv/bin/python bench/solvers.py --device cuda   # synchronized timings, CUDA peak memory

Workload: ``dy/dt = net(y)`` with net = Linear(16, 64), Tanh, Linear(64, 64), Tanh, Linear(64, 16)
(fixed seed, float32), y0 a 128 x 16 batch, t = linspace(0, 5, 100), dopri5, rtol 1e-5,
atol 1e-7, one CPU thread. Both libraries run in this process on the same inputs.

Cases (one JSON line each, then a summary line with every checked ratio, its target and ok):

1. ``forward``: a solve under no_grad; time ratio ours / torchdiffeq.odeint and evaluation counts.
2. ``adjoint_continuous``: a training step (solve, loss = ys.pow(2).mean(), backward to the net's
   parameters and y0) with our continuous adjoint vs torchdiffeq.odeint_adjoint.
3. ``adjoint_discrete``: the same step with our discrete adjoint vs torchdiffeq.odeint_adjoint and
   vs backpropagation through torchdiffeq.odeint (ours through our odeint for reference).
4. ``dense_output``: our no_grad solve with 3,000 output times vs with 2 (same steps), next to
   the floor any solver has: allocating and writing a 3,000-time result once (``floor_ratio`` is
   (two + floor) / two), and the page faults of a 3,000-time solve.
5. ``memory``: peak extra memory of one training step for our two adjoints and for backprop
   through our odeint, at the base horizon and at a horizon with ~10x the accepted steps. Each
   figure comes from a fresh subprocess (this script with the hidden ``--memory-case`` flag),
   after a warm-up step on a tiny problem: on CPU the growth of peak RSS (VmHWM, reset through
   /proc/self/clear_refs, over VmRSS before the step; ru_maxrss where the reset is refused), on
   CUDA torch.cuda.max_memory_allocated over memory_allocated before the step.

Times are the median over interleaved repeats after warm-up runs (the min is printed as well);
ratios use the medians. Every time is in milliseconds.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import torch
import torchdiffeq
from torch import nn

from models.ode import SolveStats, odeint, odeint_adjoint

SEED = 0
BATCH, DIM, HIDDEN = 128, 16, 64
N_TIMES = 100
HORIZON = 5.0
RTOL, ATOL = 1e-5, 1e-7
METHOD = "dopri5"
DENSE_TIMES = 3000
# Smaller states, printed beside the checked case: a latent ODE decoding 16 or 50 series.
DENSE_EXTRA_BATCHES = (16, 50)
# Horizons of the memory case: 300 takes ~10x the accepted steps of 5 (about 49 vs 5 here).
MEMORY_HORIZONS = {1: HORIZON, 10: 300.0}
MEMORY_CASES = ("ours_continuous", "ours_discrete", "ours_backprop")

# Upper bounds of the checked figures. "Far less" growth is read as at most a fifth.
TARGETS = {
    "forward_time_ratio": 0.5,
    "forward_fevals_rel_diff": 0.1,
    "continuous_adjoint_vs_torchdiffeq_adjoint": 0.4,
    "discrete_adjoint_vs_torchdiffeq_adjoint": 0.1,
    "discrete_adjoint_vs_torchdiffeq_backprop": 1.0,
    "dense_3000_vs_2_outputs": 1.5,
    "continuous_memory_growth_vs_backprop": 0.2,
    "discrete_memory_growth_vs_backprop": 0.2,
}

Thunk = Callable[[], object]


# --------------------------------------------------------------------------------- workload


class CountingField(nn.Module):
    """``func(t, y) = net(y)``, counting its calls (torchdiffeq's adjoint needs an nn.Module)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.calls = 0

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.net(y)


@dataclass
class Workload:
    func: CountingField
    y0: torch.Tensor  # a leaf requiring grad
    t: torch.Tensor
    device: torch.device


def make_workload(
    device: torch.device, horizon: float = HORIZON, n_times: int = N_TIMES, batch: int = BATCH
) -> Workload:
    torch.manual_seed(SEED)
    net = nn.Sequential(
        nn.Linear(DIM, HIDDEN),
        nn.Tanh(),
        nn.Linear(HIDDEN, HIDDEN),
        nn.Tanh(),
        nn.Linear(HIDDEN, DIM),
    )
    y0 = torch.randn(batch, DIM)
    return Workload(
        func=CountingField(net).to(device),
        y0=y0.to(device).requires_grad_(True),
        t=torch.linspace(0.0, horizon, n_times, device=device),
        device=device,
    )


SOLVE = {"rtol": RTOL, "atol": ATOL, "method": METHOD}


def ours_forward(
    w: Workload, t: torch.Tensor | None = None, stats: SolveStats | None = None
) -> Thunk:
    def run() -> torch.Tensor:
        with torch.no_grad():
            return odeint(w.func, w.y0, w.t if t is None else t, stats=stats, **SOLVE)

    return run


def theirs_forward(w: Workload) -> Thunk:
    def run() -> torch.Tensor:
        with torch.no_grad():
            return torchdiffeq.odeint(w.func, w.y0, w.t, **SOLVE)

    return run


def training_step(w: Workload, solve: Callable[[], torch.Tensor]) -> Thunk:
    """Clear the gradients, solve, take loss = ys.pow(2).mean() and backpropagate it."""

    def run() -> None:
        w.func.zero_grad(set_to_none=True)
        w.y0.grad = None
        solve().pow(2).mean().backward()

    return run


def ours_step(
    w: Workload,
    mode: str,
    stats: SolveStats | None = None,
    adjoint_stats: SolveStats | None = None,
) -> Thunk:
    """Our training step; ``mode`` is "continuous", "discrete" or "backprop" (plain odeint)."""
    if mode == "backprop":
        return training_step(w, lambda: odeint(w.func, w.y0, w.t, stats=stats, **SOLVE))
    return training_step(
        w,
        lambda: odeint_adjoint(
            w.func,
            w.y0,
            w.t,
            adjoint_options={"mode": mode},
            stats=stats,
            adjoint_stats=adjoint_stats,
            **SOLVE,
        ),
    )


def theirs_step(w: Workload, mode: str) -> Thunk:
    """torchdiffeq's training step; ``mode`` is "adjoint" or "backprop"."""
    solver = torchdiffeq.odeint_adjoint if mode == "adjoint" else torchdiffeq.odeint
    return training_step(w, lambda: solver(w.func, w.y0, w.t, **SOLVE))


def count_calls(w: Workload, run: Thunk) -> int:
    w.func.calls = 0
    run()
    return w.func.calls


def flat_grads(w: Workload, step: Thunk) -> torch.Tensor:
    step()
    grads = [w.y0.grad, *(p.grad for p in w.func.parameters())]
    return torch.cat([g.reshape(-1) for g in grads if g is not None]).detach().cpu()


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


# ----------------------------------------------------------------------------------- timing


@dataclass
class Timing:
    median_ms: float
    min_ms: float


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_interleaved(
    runs: dict[str, Thunk], device: torch.device, *, repeats: int, warmup: int
) -> dict[str, Timing]:
    """Time each thunk ``repeats`` times, round-robin in a rotating order, after warm-up runs."""
    for _ in range(warmup):
        for run in runs.values():
            run()
    names = list(runs)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            sync(device)
            start = time.perf_counter()
            runs[name]()
            sync(device)
            samples[name].append((time.perf_counter() - start) * 1e3)
    return {n: Timing(statistics.median(s), min(s)) for n, s in samples.items()}


def timing_fields(timings: dict[str, Timing]) -> dict[str, float]:
    fields: dict[str, float] = {}
    for name, timing in timings.items():
        fields[f"{name}_ms"] = round(timing.median_ms, 3)
        fields[f"{name}_min_ms"] = round(timing.min_ms, 3)
    return fields


# ----------------------------------------------------------------------------------- checks


@dataclass
class Check:
    name: str
    value: float | None  # None: could not be computed (reported as not ok)

    @property
    def target(self) -> float:
        return TARGETS[self.name]

    @property
    def ok(self) -> bool:
        return self.value is not None and self.value <= self.target

    def as_dict(self) -> dict[str, Any]:
        value = None if self.value is None else round(self.value, 4)
        return {"value": value, "target": f"<= {self.target}", "ok": self.ok}


def emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


def emit_case(case: str, fields: dict[str, Any], checks: list[Check]) -> list[Check]:
    emit({"case": case, **fields, "checks": {c.name: c.as_dict() for c in checks}})
    return checks


# ------------------------------------------------------------------------------------ cases


@dataclass(frozen=True)
class Repeats:
    fast: int  # cases of a few milliseconds
    slow: int  # adjoint training steps (up to seconds)
    warmup: int


def case_forward(device: torch.device, reps: Repeats) -> list[Check]:
    w = make_workload(device)
    timings = time_interleaved(
        {"ours": ours_forward(w), "theirs": theirs_forward(w)},
        device,
        repeats=reps.fast,
        warmup=reps.warmup,
    )
    stats = SolveStats()
    ours_calls = count_calls(w, ours_forward(w, stats=stats))
    theirs_calls = count_calls(w, theirs_forward(w))
    ratio = timings["ours"].median_ms / timings["theirs"].median_ms
    fields = {
        **timing_fields(timings),
        "time_ratio": round(ratio, 4),
        "ours_fevals": stats.n_fevals,
        "ours_calls_counted": ours_calls,
        "ours_accepted": stats.n_accepted,
        "ours_rejected": stats.n_rejected,
        "theirs_calls_counted": theirs_calls,
    }
    fevals_diff = abs(stats.n_fevals - theirs_calls) / theirs_calls
    return emit_case(
        "forward",
        fields,
        [Check("forward_time_ratio", ratio), Check("forward_fevals_rel_diff", fevals_diff)],
    )


def case_continuous_adjoint(device: torch.device, reps: Repeats) -> list[Check]:
    w = make_workload(device)
    timings = time_interleaved(
        {"ours": ours_step(w, "continuous"), "theirs": theirs_step(w, "adjoint")},
        device,
        repeats=reps.slow,
        warmup=reps.warmup,
    )
    stats, adjoint_stats = SolveStats(), SolveStats()
    ours_calls = count_calls(w, ours_step(w, "continuous", stats, adjoint_stats))
    theirs_calls = count_calls(w, theirs_step(w, "adjoint"))
    grad_err = rel_err(
        flat_grads(w, ours_step(w, "continuous")), flat_grads(w, theirs_step(w, "backprop"))
    )
    ratio = timings["ours"].median_ms / timings["theirs"].median_ms
    fields = {
        **timing_fields(timings),
        "time_ratio": round(ratio, 4),
        "ours_forward_fevals": stats.n_fevals,
        "ours_backward_fevals": adjoint_stats.n_fevals,
        "ours_backward_accepted": adjoint_stats.n_accepted,
        "ours_backward_rejected": adjoint_stats.n_rejected,
        "ours_calls_counted": ours_calls,
        "theirs_calls_counted": theirs_calls,
        "ours_grad_rel_err_vs_theirs_backprop": float(f"{grad_err:.3g}"),
    }
    return emit_case(
        "adjoint_continuous", fields, [Check("continuous_adjoint_vs_torchdiffeq_adjoint", ratio)]
    )


def case_discrete_adjoint(device: torch.device, reps: Repeats) -> list[Check]:
    w = make_workload(device)
    runs = {
        "ours_discrete": ours_step(w, "discrete"),
        "ours_backprop": ours_step(w, "backprop"),
        "theirs_adjoint": theirs_step(w, "adjoint"),
        "theirs_backprop": theirs_step(w, "backprop"),
    }
    timings = time_interleaved(runs, device, repeats=reps.slow, warmup=reps.warmup)
    stats, adjoint_stats = SolveStats(), SolveStats()
    ours_calls = count_calls(w, ours_step(w, "discrete", stats, adjoint_stats))
    grad_err = rel_err(
        flat_grads(w, ours_step(w, "discrete")), flat_grads(w, theirs_step(w, "backprop"))
    )
    ours = timings["ours_discrete"].median_ms
    vs_adjoint = ours / timings["theirs_adjoint"].median_ms
    vs_backprop = ours / timings["theirs_backprop"].median_ms
    backprop_ratio = timings["ours_backprop"].median_ms / timings["theirs_backprop"].median_ms
    fields = {
        **timing_fields(timings),
        "ratio_vs_theirs_adjoint": round(vs_adjoint, 4),
        "ratio_vs_theirs_backprop": round(vs_backprop, 4),
        "ours_backprop_vs_theirs_backprop": round(backprop_ratio, 4),
        "ours_forward_fevals": stats.n_fevals,
        "ours_backward_fevals": adjoint_stats.n_fevals,
        "ours_calls_counted": ours_calls,
        "theirs_adjoint_calls_counted": count_calls(w, runs["theirs_adjoint"]),
        "theirs_backprop_calls_counted": count_calls(w, runs["theirs_backprop"]),
        "ours_grad_rel_err_vs_theirs_backprop": float(f"{grad_err:.3g}"),
    }
    checks = [
        Check("discrete_adjoint_vs_torchdiffeq_adjoint", vs_adjoint),
        Check("discrete_adjoint_vs_torchdiffeq_backprop", vs_backprop),
    ]
    return emit_case("adjoint_discrete", fields, checks)


def case_dense_output(device: torch.device, reps: Repeats, batch: int = BATCH) -> list[Check]:
    """The checked case at the workload's batch; other batches are printed for comparison."""
    w = make_workload(device, batch=batch)
    many = torch.linspace(0.0, HORIZON, DENSE_TIMES, device=device)
    two = torch.tensor([0.0, HORIZON], device=device)
    output_shape = (DENSE_TIMES, *w.y0.shape)

    def write_output_once() -> torch.Tensor:
        # The floor: any solver must at least allocate and write the 3,000-time result.
        return torch.empty(output_shape, device=device).fill_(1.0)

    timings = time_interleaved(
        {"many": ours_forward(w, many), "two": ours_forward(w, two), "floor": write_output_once},
        device,
        repeats=reps.fast,
        warmup=reps.warmup,
    )
    many_stats, two_stats = SolveStats(), SolveStats()
    ours_forward(w, many, many_stats)()
    ours_forward(w, two, two_stats)()
    ratio = timings["many"].median_ms / timings["two"].median_ms
    floor_ratio = (timings["two"].median_ms + timings["floor"].median_ms) / timings["two"].median_ms
    fields = {
        "batch": batch,
        "n_outputs": [DENSE_TIMES, 2],
        "output_mb": round(torch.empty(output_shape).nelement() * 4 / 2**20, 1),
        **timing_fields(timings),
        "time_ratio": round(ratio, 4),
        "floor_ratio": round(floor_ratio, 4),
        "page_faults_per_many_run": page_faults_per_run(ours_forward(w, many), reps.fast),
        "many_fevals": many_stats.n_fevals,
        "two_fevals": two_stats.n_fevals,
        "fevals_equal": many_stats.n_fevals == two_stats.n_fevals,
    }
    checks = [Check("dense_3000_vs_2_outputs", ratio)] if batch == BATCH else []
    return emit_case("dense_output", fields, checks)


def page_faults_per_run(run: Thunk, repeats: int) -> float:
    """Mean minor page faults of one run: fresh pages the kernel had to map and zero."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(repeats):
        run()
    return round((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / repeats, 1)


# ----------------------------------------------------------------------------------- memory


def _proc_status_kib(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    raise KeyError(key)


def _reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where that is not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def measure_memory(case: str, scale: int, device: torch.device) -> dict[str, Any]:
    """Peak extra memory of one training step of ``case``, in this (fresh) process."""
    mode = case.removeprefix("ours_")
    # Warm up with the same code path on a tiny problem (one short step): the first
    # autograd.Function call imports ~45 MB of modules (sympy, via torch), which is not the step.
    ours_step(make_workload(device, horizon=1e-3, n_times=2), mode)()
    w = make_workload(device, horizon=MEMORY_HORIZONS[scale])
    stats = SolveStats()
    step = ours_step(w, mode, stats)
    gc.collect()
    sync(device)
    if device.type == "cuda":
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        step()
        sync(device)
        peak_delta = torch.cuda.max_memory_allocated(device) - before
        method = "torch.cuda.max_memory_allocated - memory_allocated before the step"
    else:
        before = _proc_status_kib("VmRSS") * 1024
        if _reset_peak_rss():
            step()
            peak = _proc_status_kib("VmHWM") * 1024
            method = "RSS: VmHWM (reset via /proc/self/clear_refs) - VmRSS before the step"
        else:
            step()
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            method = "RSS: ru_maxrss after - VmRSS before the step"
        peak_delta = peak - before
    return {
        "memory_case": case,
        "scale": scale,
        "horizon": MEMORY_HORIZONS[scale],
        "accepted_steps": stats.n_accepted,
        "fevals": stats.n_fevals,
        "peak_delta_mb": round(peak_delta / 2**20, 3),
        "memory_method": method,
    }


def run_memory_subprocess(case: str, scale: int, device: torch.device) -> dict[str, Any]:
    command = [sys.executable, __file__, "--device", device.type]
    command += ["--memory-case", case, "--memory-scale", str(scale)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def growth_ratio(growth: float, reference: float) -> float | None:
    return growth / reference if reference > 0 else None


def case_memory(device: torch.device) -> list[Check]:
    results = {
        (case, scale): run_memory_subprocess(case, scale, device)
        for case in MEMORY_CASES
        for scale in MEMORY_HORIZONS
    }
    peak = {key: r["peak_delta_mb"] for key, r in results.items()}
    growth = {case: peak[case, 10] - peak[case, 1] for case in MEMORY_CASES}
    backprop = growth["ours_backprop"]
    fields = {
        "memory_method": results["ours_backprop", 1]["memory_method"],
        "horizons": MEMORY_HORIZONS,
        "accepted_steps": {
            f"{case}_x{scale}": r["accepted_steps"] for (case, scale), r in results.items()
        },
        "peak_delta_mb": {f"{case}_x{scale}": mb for (case, scale), mb in peak.items()},
        "growth_mb": {case: round(g, 3) for case, g in growth.items()},
    }
    checks = [
        Check(
            "continuous_memory_growth_vs_backprop",
            growth_ratio(growth["ours_continuous"], backprop),
        ),
        Check(
            "discrete_memory_growth_vs_backprop", growth_ratio(growth["ours_discrete"], backprop)
        ),
    ]
    return emit_case("memory", fields, checks)


# ------------------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--memory-case", choices=MEMORY_CASES, help=argparse.SUPPRESS)
    parser.add_argument(
        "--memory-scale",
        type=int,
        choices=tuple(MEMORY_HORIZONS),
        default=1,
        help=argparse.SUPPRESS,
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    device = torch.device(args.device)
    if args.memory_case is not None:
        emit(measure_memory(args.memory_case, args.memory_scale, device))
        return
    reps = Repeats(fast=9, slow=3, warmup=1) if args.quick else Repeats(fast=31, slow=9, warmup=2)
    started = time.perf_counter()
    checks = [
        *case_forward(device, reps),
        *case_continuous_adjoint(device, reps),
        *case_discrete_adjoint(device, reps),
        *case_dense_output(device, reps),
        *(c for batch in DENSE_EXTRA_BATCHES for c in case_dense_output(device, reps, batch)),
        *case_memory(device),
    ]
    emit(
        {
            "summary": {c.name: c.as_dict() for c in checks},
            "all_ok": all(c.ok for c in checks),
            "failed": [c.name for c in checks if not c.ok],
            "config": {
                "device": device.type,
                "threads": torch.get_num_threads(),
                "repeats": {"fast": reps.fast, "slow": reps.slow, "warmup": reps.warmup},
                "torch": torch.__version__,
                "torchdiffeq": version("torchdiffeq"),
                "elapsed_s": round(time.perf_counter() - started, 1),
            },
        }
    )


if __name__ == "__main__":
    main()
