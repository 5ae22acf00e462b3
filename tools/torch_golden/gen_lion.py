#!/usr/bin/env python3
"""Golden trajectories of Lion from lucidrains' lion-pytorch, in float64, for optlab's
reference-parity test (crates/optlab-optim/tests/reference_parity.rs reads every
tests/golden/reference_*.json).

Reference: lion_pytorch.Lion (use_triton=False, decoupled_weight_decay=False), whose update is
  p *= 1 - lr * wd;  p -= lr * sign(beta1 * m + (1 - beta1) * g);  m = beta2 * m + (1 - beta2) * g.

Test functions (formulas here, gradients by autograd; the Rust test has the same formulas):
  rosenbrock (1-x)^2 + 100 (y-x^2)^2
  beale      (1.5-x+xy)^2 + (2.25-x+xy^2)^2 + (2.625-x+xy^3)^2
  booth      (x+2y-7)^2 + (2x+y-5)^2

Each case: `set` holds optlab's keys; `reference` the call used; trajectory row 0 is the start,
row i the point after step i; grads[i] is the autograd gradient used by step i+1 (at
trajectory[i]). `negate: true`: lion-pytorch minimised f, optlab runs maximize=true on -f.

Regenerate (from the repository root):
  /work/venv/bin/pip install lion-pytorch==0.2.5
  /work/venv/bin/python tools/torch_golden/gen_lion.py
writes crates/optlab-optim/tests/golden/reference_lion.json.
"""
import importlib.metadata as md
import json
import math
import os

import torch
from lion_pytorch import Lion

torch.set_default_dtype(torch.float64)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "crates", "optlab-optim", "tests", "golden", "reference_lion.json")


def rosenbrock(v):
    x, y = v[0], v[1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def beale(v):
    x, y = v[0], v[1]
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def booth(v):
    x, y = v[0], v[1]
    return (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2


FUNCS = {"rosenbrock": (rosenbrock, [-1.5, 2.0]), "beale": (beale, [1.0, 1.5]), "booth": (booth, [-5.0, 5.0])}

# (id suffix, optlab settings, lion-pytorch keyword arguments)
SETTINGS = [
    ("default", {}, {}),
    ("lr", {"lr": 1e-2}, {"lr": 1e-2}),
    ("betas", {"lr": 3e-3, "beta1": 0.95, "beta2": 0.98}, {"lr": 3e-3, "betas": (0.95, 0.98)}),
    ("weight_decay", {"lr": 1e-2, "weight_decay": 0.1}, {"lr": 1e-2, "weight_decay": 0.1}),
    ("beta1_zero", {"lr": 1e-2, "beta1": 0.0, "beta2": 0.9}, {"lr": 1e-2, "betas": (0.0, 0.9)}),
]
STEPS = 200


def run(fn, start, kw, negate):
    f = FUNCS[fn][0]
    p = torch.tensor(start, requires_grad=True)
    opt = Lion([p], **kw)
    traj, grads = [p.detach().tolist()], []
    for _ in range(STEPS):
        opt.zero_grad()
        f(p).backward()
        grads.append(p.grad.detach().tolist())
        opt.step()
        row = p.detach().tolist()
        if not all(math.isfinite(v) for v in row):
            raise SystemExit(f"{fn} {kw} diverged")
        traj.append(row)
    return traj, grads


def main():
    cases = []
    for suffix, ours, theirs in SETTINGS:
        for fn, (_, start) in FUNCS.items():
            traj, grads = run(fn, start, theirs, False)
            cases.append({
                "id": f"lion_{fn}_{suffix}",
                "optimizer": "lion",
                "package": "lion-pytorch",
                "reference": f"lion_pytorch.Lion({', '.join(f'{k}={v}' for k, v in theirs.items())})",
                "set": ours,
                "function": fn,
                "start": start,
                "steps": STEPS,
                "negate": False,
                "trajectory": traj,
                "grads": grads,
            })
    # maximize=true on -f is the same trajectory as minimising f.
    traj, grads = run("beale", FUNCS["beale"][1], {"lr": 1e-2}, True)
    cases.append({
        "id": "lion_beale_maximize",
        "optimizer": "lion",
        "package": "lion-pytorch",
        "reference": "lion_pytorch.Lion(lr=0.01) minimising f",
        "set": {"lr": 1e-2, "maximize": True},
        "function": "beale",
        "start": FUNCS["beale"][1],
        "steps": STEPS,
        "negate": True,
        "trajectory": traj,
        "grads": grads,
    })
    out = {
        "generator": "tools/torch_golden/gen_lion.py",
        "packages": {"torch": torch.__version__.split("+")[0], "lion-pytorch": md.version("lion-pytorch")},
        "notes": [
            "float64 throughout; grads[i] is the autograd gradient of step i+1, taken at trajectory[i]",
            "negate: the reference minimised f, optlab runs maximize=true on -f",
        ],
        "cases": cases,
    }
    with open(OUT, "w") as fh:
        json.dump(out, fh, indent=None, separators=(",", ":"))
        fh.write("\n")
    print(f"wrote {len(cases)} cases to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
