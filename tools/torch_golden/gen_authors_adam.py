#!/usr/bin/env python3
"""Golden trajectories of the study's third-moment Adams as the authors' code computes them, in
float64, for crates/optlab-optim/tests/authors_parity.rs (optlab's `adam_skew` and `adam_third`
with `authors=true`).

Source: github.com/Shubh-Goyal-07/DLProject at commit de8d89fdf9898baef0c7ff731c850ac5c41b28b1,
experiments/optimizers/customAdam3.py (class customAdam3: Adam plus a cube-rooted third moment in
the denominator) and customAdam4.py (class customAdam4: the third moment in place of the
second). The two `step` methods are re-typed below, operation for operation, without the
commented-out lines and the `state['grad']` copy (never read). What matters for optlab:
  customAdam3: t_cap = (q / bc3) ** (1/3) is NaN where q < 0 and is then set to 1e-9;
               p -= lr * s_cap / (r_cap + t_cap + eps), s_cap = s / bc1, r_cap = sqrt(r / bc2).
  customAdam4: s_cap = pow(s / bc1, 0.75), r_cap = pow(r / bc2, 0.25), NaN (negative base)
               set to 1e-15; r is the EMA of g**3 with the *second* beta; p -= lr * s_cap / (r_cap + eps).
  Defaults of both: lr 1e-3, betas (0.99, 0.999, 0.9999), eps 1e-3.

With DLPROJECT=/path/to/DLProject/experiments set, the script also imports the authors' own
classes (optimizers.customAdam3, optimizers.customAdam4) and checks that they give the same
trajectories bit for bit.

Cases: the 2-D test functions (gradients by autograd; the Rust test has the formulas, as in
reference_parity.rs) and a 4-D run fed fixed seeded gradients of both signs (open loop only).
Each case records `nan_replaced`: how many elements had their power replaced (the negative-moment
branch the test must exercise).

Regenerate (from the repository root):
  /work/venv/bin/python tools/torch_golden/gen_authors_adam.py
writes crates/optlab-optim/tests/golden/authors_adam.json.
"""
import json
import math
import os
import sys

import torch

torch.set_default_dtype(torch.float64)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "crates", "optlab-optim", "tests", "golden", "authors_adam.json")
COMMIT = "de8d89fdf9898baef0c7ff731c850ac5c41b28b1"


class CustomAdam3(torch.optim.Optimizer):
    """customAdam3.step, re-typed."""

    def __init__(self, params, lr=1e-3, betas=(0.99, 0.999, 0.9999), eps=1e-3):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))
        self.nan_replaced = 0

    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.data
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p.data)
                    state["exp_avg_sq"] = torch.zeros_like(p.data)
                    state["exp_avg_third"] = torch.zeros_like(p.data)
                beta1, beta2, beta3 = group["betas"]
                state["step"] += 1
                state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * grad
                state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * grad**2
                state["exp_avg_third"] = beta3 * state["exp_avg_third"] + (1 - beta3) * grad**3
                bias_correction1 = 1 - beta1 ** state["step"]
                bias_correction2 = 1 - beta2 ** state["step"]
                bias_correction3 = 1 - beta3 ** state["step"]
                s_cap = state["exp_avg"] / (bias_correction1)
                r_cap = (state["exp_avg_sq"] / (bias_correction2)).sqrt()
                t_cap = (state["exp_avg_third"] / (bias_correction3)) ** (1 / 3)
                self.nan_replaced += int((t_cap != t_cap).sum())
                s_cap[s_cap != s_cap] = 1e-9
                r_cap[r_cap != r_cap] = 1e-9
                t_cap[t_cap != t_cap] = 1e-9
                p.data.addcdiv_(s_cap, r_cap + t_cap + group["eps"], value=-group["lr"])


class CustomAdam4(torch.optim.Optimizer):
    """customAdam4.step, re-typed."""

    def __init__(self, params, lr=1e-3, betas=(0.99, 0.999, 0.9999), eps=1e-3):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))
        self.nan_replaced = 0

    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.data
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p.data)
                    state["exp_avg_cube"] = torch.zeros_like(p.data)
                beta1, beta2, beta3 = group["betas"]
                state["step"] += 1
                state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * grad
                state["exp_avg_cube"] = beta2 * state["exp_avg_cube"] + (1 - beta2) * grad**3
                bias_correction1 = 1 - beta1 ** state["step"]
                bias_correction2 = 1 - beta2 ** state["step"]
                s_cap = torch.pow(state["exp_avg"] / bias_correction1, 0.75)
                r_cap = torch.pow(state["exp_avg_cube"] / bias_correction2, 0.25)
                self.nan_replaced += int((s_cap != s_cap).sum() + (r_cap != r_cap).sum())
                s_cap[s_cap != s_cap] = 1e-15
                r_cap[r_cap != r_cap] = 1e-15
                p.data.addcdiv_(s_cap, r_cap + group["eps"], value=-group["lr"])


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
STEPS = 200

# (optlab optimizer, authors' class, id suffix, authors' keyword arguments)
SETTINGS = [
    ("adam_skew", CustomAdam3, "defaults", {}),
    ("adam_skew", CustomAdam3, "lr", {"lr": 1e-2}),
    ("adam_skew", CustomAdam3, "betas", {"lr": 5e-3, "betas": (0.9, 0.99, 0.95), "eps": 1e-8}),
    ("adam_third", CustomAdam4, "defaults", {}),
    ("adam_third", CustomAdam4, "lr", {"lr": 1e-2}),
    ("adam_third", CustomAdam4, "betas", {"lr": 5e-3, "betas": (0.9, 0.99, 0.95), "eps": 1e-8}),
]


def optlab_set(optimizer, kw):
    """optlab's keys for the authors' arguments (their defaults written out: optlab's are Adam's)."""
    lr = kw.get("lr", 1e-3)
    b1, b2, b3 = kw.get("betas", (0.99, 0.999, 0.9999))
    eps = kw.get("eps", 1e-3)
    s = {"authors": True, "lr": lr, "beta1": b1, "beta2": b2, "eps": eps}
    if optimizer == "adam_skew":
        s["beta3"] = b3
    return s


def noise_grads(seed, n, dim):
    g = torch.Generator().manual_seed(seed)
    # Both signs: a mean from clearly positive to clearly negative across the coordinates, so the
    # moments' signs change over time in the middle ones.
    base = torch.randn(n, dim, generator=g)
    bias = torch.linspace(0.4, -0.4, dim)
    return (base * 0.8 + bias).tolist()


def run_fn(cls, kw, fn, start):
    f = FUNCS[fn][0]
    p = torch.tensor(start, requires_grad=True)
    opt = cls([p], **kw)
    traj, grads = [p.detach().tolist()], []
    for _ in range(STEPS):
        opt.zero_grad()
        f(p).backward()
        grads.append(p.grad.detach().tolist())
        opt.step()
        row = p.detach().tolist()
        if not all(math.isfinite(v) for v in row):
            raise SystemExit(f"{cls.__name__} {kw} on {fn} diverged")
        traj.append(row)
    return traj, grads, opt.nan_replaced


def run_fed(cls, kw, start, grads):
    p = torch.tensor(start, requires_grad=True)
    opt = cls([p], **kw)
    traj = [p.detach().tolist()]
    for g in grads:
        p.grad = torch.tensor(g)
        opt.step()
        traj.append(p.detach().tolist())
    return traj, opt.nan_replaced


def check_against_authors(cases):
    root = os.environ.get("DLPROJECT")
    if not root:
        return "not checked (DLPROJECT unset)"
    sys.path.insert(0, root)
    from optimizers.customAdam3 import customAdam3
    from optimizers.customAdam4 import customAdam4

    theirs = {"adam_skew": customAdam3, "adam_third": customAdam4}
    for c in cases:
        cls = theirs[c["optimizer"]]
        if c["function"] is None:
            p = torch.tensor(c["start"], requires_grad=True)
            opt = cls([p], **c["authors_kwargs"])
            traj = [p.detach().tolist()]
            for g in c["grads"]:
                p.grad = torch.tensor(g)
                opt.step()
                traj.append(p.detach().tolist())
        else:
            f = FUNCS[c["function"]][0]
            p = torch.tensor(c["start"], requires_grad=True)
            opt = cls([p], **c["authors_kwargs"])
            traj = [p.detach().tolist()]
            for _ in range(c["steps"]):
                opt.zero_grad()
                f(p).backward()
                opt.step()
                traj.append(p.detach().tolist())
        if traj != c["trajectory"]:
            raise SystemExit(f"{c['id']}: the authors' class differs from the re-typed one")
    return f"checked: the authors' classes from {root} give the same trajectories bit for bit"


def main():
    cases = []
    for optimizer, cls, suffix, kw in SETTINGS:
        for fn, (_, start) in FUNCS.items():
            traj, grads, nan = run_fn(cls, kw, fn, start)
            cases.append({
                "id": f"{optimizer}_authors_{fn}_{suffix}",
                "optimizer": optimizer,
                "authors_class": cls.__doc__.split(".")[0],
                "authors_kwargs": kw,
                "set": optlab_set(optimizer, kw),
                "function": fn,
                "start": start,
                "steps": STEPS,
                "trajectory": traj,
                "grads": grads,
                "nan_replaced": nan,
            })
        start = [0.5, -0.25, 1.0, 0.0]
        grads = noise_grads(17, STEPS, len(start))
        traj, nan = run_fed(cls, kw, start, grads)
        cases.append({
            "id": f"{optimizer}_authors_noise_{suffix}",
            "optimizer": optimizer,
            "authors_class": cls.__doc__.split(".")[0],
            "authors_kwargs": kw,
            "set": optlab_set(optimizer, kw),
            "function": None,
            "start": start,
            "steps": STEPS,
            "trajectory": traj,
            "grads": grads,
            "nan_replaced": nan,
        })
    for c in cases:
        if isinstance(c["authors_kwargs"].get("betas"), tuple):
            c["authors_kwargs"]["betas"] = list(c["authors_kwargs"]["betas"])
    checked = check_against_authors(cases)
    out = {
        "generator": "tools/torch_golden/gen_authors_adam.py",
        "source": f"github.com/Shubh-Goyal-07/DLProject@{COMMIT}: experiments/optimizers/customAdam3.py, customAdam4.py",
        "authors_check": checked,
        "packages": {"torch": torch.__version__.split("+")[0]},
        "notes": [
            "float64 throughout; grads[i] is the gradient of step i+1, taken at trajectory[i]",
            "function null: fixed seeded gradients (open loop only)",
            "nan_replaced: elements whose fractional power was NaN (negative moment) and was replaced",
        ],
        "cases": cases,
    }
    with open(OUT, "w") as fh:
        json.dump(out, fh, indent=None, separators=(",", ":"))
        fh.write("\n")
    print(f"wrote {len(cases)} cases to {os.path.normpath(OUT)}; {checked}")
    for c in cases:
        print(f"  {c['id']:40} nan_replaced {c['nan_replaced']}")


if __name__ == "__main__":
    main()
