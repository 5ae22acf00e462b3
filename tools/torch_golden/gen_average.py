"""Golden trajectories of torch.optim.swa_utils (float64) on a test function, for optlab's weight
averaging (crates/optlab-optim/tests/average_parity.rs).

Each case minimises Rosenbrock f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 from (-1.5, 2) with a
torch optimizer and averages the weights with `AveragedModel` (SWA: the default average; EMA:
`get_ema_multi_avg_fn(decay)`), optionally with `SWALR`, in torch's documented usage, one unit
per optimizer step (c counted from 1):

    for c in 1..=T:
        opt.zero_grad(); f(p).backward(); opt.step()
        if c - 1 >= swa_start:                       # torch's `if epoch >= swa_start`, 0-based
            if (c - 1 - swa_start) % swa_freq == 0: avg.update_parameters(model)
            swalr.step()                             # SWALR, created at the first such unit
        elif sched: sched.step()                     # the schedule before averaging

Records per step the parameters, the averaged parameters (None before the first update) and
the lr the step used. Writes crates/optlab-optim/tests/golden/average.json.

Regenerate:  /work/venv/bin/python tools/torch_golden/gen_average.py   (any venv with torch)
"""
import json
import warnings
import os

import torch
from torch.optim.swa_utils import SWALR, AveragedModel, get_ema_multi_avg_fn

torch.set_default_dtype(torch.float64)
# SWALR is created after the optimizer has stepped (at the first averaged unit): torch then warns
# that its first step() precedes an optimizer step, which does not matter to SWALR.
warnings.filterwarnings("ignore", message="Detected call of")
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "crates", "optlab-optim", "tests", "golden", "average.json")
START = [-1.5, 2.0]
STEPS = 60


class Point(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.tensor(START))


def rosenbrock(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


def run(case):
    model = Point()
    opt = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[case["optimizer"]](
        model.parameters(), **{k: float(v) for k, v in case["set"].items()}
    )
    a = case["average"]
    if a["method"] == "swa":
        avg = AveragedModel(model)
    else:
        avg = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(a.get("ema_decay", 0.999)))
    sched = None
    if "step_lr" in case:
        sched = torch.optim.lr_scheduler.StepLR(opt, **case["step_lr"])
    swalr = None
    start, freq = a.get("swa_start", 0), a.get("swa_freq", 1)
    params, averaged, lrs = [], [], []
    for c in range(1, STEPS + 1):
        lrs.append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        rosenbrock(model.p).backward()
        opt.step()
        if c - 1 >= start:
            if (c - 1 - start) % freq == 0:
                avg.update_parameters(model)
            if "swa_lr" in a:
                if swalr is None:
                    kw = {"swa_lr": a["swa_lr"]}
                    if "anneal_epochs" in a:
                        kw["anneal_epochs"] = a["anneal_epochs"]
                    if "anneal_strategy" in a:
                        kw["anneal_strategy"] = a["anneal_strategy"]
                    swalr = SWALR(opt, **kw)
                swalr.step()
        elif sched is not None:
            sched.step()
        params.append(model.p.detach().tolist())
        averaged.append(avg.module.p.detach().tolist() if int(avg.n_averaged) > 0 else None)
    return dict(case, start=START, params=params, averaged=averaged, lrs=lrs)


CASES = [
    {"name": "swa_sgd_momentum_freq3", "optimizer": "sgd", "set": {"lr": "0.0005", "momentum": "0.9"},
     "average": {"method": "swa", "swa_start": 10, "swa_freq": 3}},
    {"name": "swa_adam_swalr_cos", "optimizer": "adam", "set": {"lr": "0.05"},
     "average": {"method": "swa", "swa_start": 20, "swa_lr": 0.01, "anneal_epochs": 10}},
    {"name": "swa_sgd_steplr_then_swalr_linear", "optimizer": "sgd", "set": {"lr": "0.001"},
     "step_lr": {"step_size": 4, "gamma": 0.7}, "schedule": "lr=step(step_size=4,gamma=0.7)",
     "average": {"method": "swa", "swa_start": 12, "swa_lr": 0.002, "anneal_epochs": 5, "anneal_strategy": "linear"}},
    {"name": "swa_adam_swalr_no_anneal", "optimizer": "adam", "set": {"lr": "0.02"},
     "average": {"method": "swa", "swa_start": 7, "swa_freq": 2, "swa_lr": 0.005, "anneal_epochs": 0}},
    {"name": "ema_adam", "optimizer": "adam", "set": {"lr": "0.05"}, "average": {"method": "ema", "ema_decay": 0.9}},
    {"name": "ema_sgd_late_sparse", "optimizer": "sgd", "set": {"lr": "0.0005", "momentum": "0.5"},
     "average": {"method": "ema", "ema_decay": 0.3, "swa_start": 5, "swa_freq": 2}},
]

out = [run(c) for c in CASES]
with open(OUT, "w") as f:
    json.dump({"steps": STEPS, "cases": out}, f, indent=1)
print("wrote", OUT, len(out), "cases")
