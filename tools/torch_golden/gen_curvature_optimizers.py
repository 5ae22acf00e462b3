"""Golden trajectories of pytorch_optimizer's AdaHessian and SophiaH (4.1.0) in float64, for
optlab's adahessian and sophia (crates/optlab-optim/tests/curvature_parity.rs).

The Hutchinson estimate is random; to compare exactly, the Hessian diagonal is given to the
optimizers from outside (`step(hessian=[h])`, which both classes accept): the exact diagonal of
the test function at the iterate, from torch autograd, on the steps where the optimizer updates
its Hessian average (steps 1, 1 + update_period, ...; on the others `hessian=None`, and with the
parameter's `.grad` not made with `create_graph`, no estimate is computed). optlab's run loop
gives the same exact diagonal (optlab-functions' analytic Hessian diagonal), so what is compared
is the update rule given identical curvature inputs: every iterate within 1e-9.

Each case: our `--set` keys, the function, start, steps, the trajectory (row 0 = start), the
gradients and the Hessian diagonals at each iterate (row i at trajectory[i]). The single-tensor
path (`foreach=False`) is the one matched.

Regenerate:  venv/bin/python tools/torch_golden/gen_curvature_optimizers.py
"""
import json
import math
import os

import torch
from pytorch_optimizer import AdaHessian, SophiaH

torch.set_default_dtype(torch.float64)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "crates", "optlab-optim", "tests", "golden", "curvature_pytorch_optimizer.json")


def rosenbrock(x):
    return sum((1 - x[i]) ** 2 + 100 * (x[i + 1] - x[i] ** 2) ** 2 for i in range(len(x) - 1))


def beale(x):
    a, b = x[0], x[1]
    return (1.5 - a + a * b) ** 2 + (2.25 - a + a * b**2) ** 2 + (2.625 - a + a * b**3) ** 2


def booth(x):
    return (x[0] + 2 * x[1] - 7) ** 2 + (2 * x[0] + x[1] - 5) ** 2


def himmelblau(x):
    return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2


def styblinski_tang(x):
    return 0.5 * (x**4 - 16 * x**2 + 5 * x).sum()


FUNCS = {
    "rosenbrock": (rosenbrock, [-1.5, 2.0]),
    "beale": (beale, [1.0, 1.5]),
    "booth": (booth, [-5.0, 5.0]),
    "himmelblau": (himmelblau, [0.5, -0.5]),
    "styblinski_tang": (styblinski_tang, [0.5, -1.0, 2.0]),
}


def hess_diag(f, x):
    h = torch.autograd.functional.hessian(f, x.detach())
    return torch.diagonal(h).tolist()


def make(name, p, s):
    s = dict(s)
    kw = {"foreach": False}
    b1 = float(s.pop("beta1", {"adahessian": 0.9, "sophia": 0.96}[name]))
    b2 = float(s.pop("beta2", {"adahessian": 0.999, "sophia": 0.99}[name]))
    kw["betas"] = (b1, b2)
    for k, v in s.items():
        if v in ("true", "false"):
            kw[k] = v == "true"
        elif k == "update_period":
            kw[k] = int(v)
        else:
            kw[k] = float(v)
    return (AdaHessian if name == "adahessian" else SophiaH)([p], **kw)


def run(case):
    f, default_start = FUNCS[case["function"]]
    start = case.get("start", default_start)
    p = torch.tensor(start, requires_grad=True)
    opt = make(case["optimizer"], p, case["set"])
    period = int(case["set"].get("update_period", {"adahessian": 1, "sophia": 10}[case["optimizer"]]))
    sign = -1.0 if case.get("negate") else 1.0
    obj = lambda x: sign * f(x)  # noqa: E731
    traj, grads, hessians = [p.detach().tolist()], [], []
    for t in range(1, case["steps"] + 1):
        opt.zero_grad()
        loss = obj(p)
        loss.backward()
        grads.append(p.grad.detach().tolist())
        h = hess_diag(obj, p)
        hessians.append(h)
        update = (t - 1) % period == 0
        opt.step(hessian=[torch.tensor(h)] if update else None)
        row = p.detach().tolist()
        if not all(math.isfinite(v) for v in row):
            raise SystemExit(f"case {case['id']} diverged; pick gentler settings")
        traj.append(row)
    out = dict(case)
    out["start"] = start
    out["trajectory"] = traj
    out["grads"] = grads
    out["hessians"] = hessians
    return out


def cases():
    out = []
    for fn, steps in (("rosenbrock", 40), ("beale", 40), ("booth", 30), ("himmelblau", 30), ("styblinski_tang", 30)):
        out += [
            {"id": f"adahessian-{fn}", "optimizer": "adahessian", "function": fn, "set": {"lr": "0.05"}, "steps": steps},
            {"id": f"adahessian-{fn}-period3-power0.5", "optimizer": "adahessian", "function": fn,
             "set": {"lr": "0.02", "update_period": "3", "hessian_power": "0.5"}, "steps": steps},
            {"id": f"sophia-{fn}", "optimizer": "sophia", "function": fn, "set": {"lr": "0.05", "p": "0.5"},
             "steps": steps},
            {"id": f"sophia-{fn}-period1", "optimizer": "sophia", "function": fn,
             "set": {"lr": "0.02", "p": "1.0", "update_period": "1", "beta2": "0.9"}, "steps": steps},
        ]
    out += [
        {"id": "adahessian-booth-l2", "optimizer": "adahessian", "function": "booth",
         "set": {"lr": "0.05", "weight_decay": "0.01", "weight_decouple": "false"}, "steps": 30},
        {"id": "adahessian-booth-decoupled", "optimizer": "adahessian", "function": "booth",
         "set": {"lr": "0.05", "weight_decay": "0.1"}, "steps": 30},
        {"id": "adahessian-beale-fixed-debias", "optimizer": "adahessian", "function": "beale",
         "set": {"lr": "0.02", "weight_decay": "0.01", "fixed_decay": "true", "adam_debias": "true",
                 "eps": "1e-8", "beta1": "0.8", "beta2": "0.99"}, "steps": 30},
        {"id": "adahessian-booth-maximize", "optimizer": "adahessian", "function": "booth",
         "set": {"lr": "0.05", "maximize": "true"}, "negate": True, "steps": 20},
        {"id": "sophia-booth-l2", "optimizer": "sophia", "function": "booth",
         "set": {"lr": "0.05", "p": "0.5", "weight_decay": "0.01", "weight_decouple": "false"}, "steps": 30},
        {"id": "sophia-beale-decoupled-fixed", "optimizer": "sophia", "function": "beale",
         "set": {"lr": "0.02", "p": "0.5", "weight_decay": "0.01", "fixed_decay": "true", "eps": "1e-6", "beta1": "0.9",
                 "update_period": "4"}, "steps": 30},
        {"id": "sophia-himmelblau-maximize", "optimizer": "sophia", "function": "himmelblau",
         "set": {"lr": "0.05", "p": "0.5", "maximize": "true", "update_period": "2"}, "negate": True, "steps": 20},
    ]
    return out


def main():
    res = [run(c) for c in cases()]
    with open(OUT, "w") as fh:
        json.dump({"pytorch_optimizer": __import__("importlib.metadata").metadata.version("pytorch_optimizer"), "cases": res}, fh)
    print(f"wrote {len(res)} cases to {os.path.relpath(OUT)}")


if __name__ == "__main__":
    main()
