"""Golden trajectories of torch.optim in float64, for optlab's parity tests.

Runs every torch optimizer that optlab mirrors (SGD, Adagrad, Adadelta, RMSprop, Adam, AdamW,
Adamax, NAdam, RAdam, Rprop, ASGD) over a spread of hyperparameters (weight decay, amsgrad, nesterov,
dampening, centered, momentum, maximize, decoupled weight decay, etas, step sizes) on several test functions, plus
optimizer + lr-scheduler cases, and writes crates/optlab-optim/tests/golden/torch_optim.json.

Each case: our optimizer name and `--set` keys, the function, start, number of steps, the
trajectory (row 0 = the start, row i = after step i) and the gradient torch used at each step
(grads[i] was computed at trajectory[i]). Gradients come from torch autograd of the
formula below; the Rust test uses optlab-functions' analytic gradients of the same formulas.
`negate: true` means the objective is -f (used with maximize=true, which then climbs -f, i.e.
minimises f).

Regenerate:  python3 -m venv venv && venv/bin/pip install -r tools/torch_golden/requirements.txt
             venv/bin/python tools/torch_golden/gen_optim.py
"""
import json
import math
import os

import torch

torch.set_default_dtype(torch.float64)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "crates", "optlab-optim", "tests", "golden", "torch_optim.json")


def rosenbrock(x):
    return sum((1 - x[i]) ** 2 + 100 * (x[i + 1] - x[i] ** 2) ** 2 for i in range(len(x) - 1))


def beale(x):
    a, b = x[0], x[1]
    return (1.5 - a + a * b) ** 2 + (2.25 - a + a * b**2) ** 2 + (2.625 - a + a * b**3) ** 2


def booth(x):
    return (x[0] + 2 * x[1] - 7) ** 2 + (2 * x[0] + x[1] - 5) ** 2


def himmelblau(x):
    return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2


def three_hump_camel(x):
    a, b = x[0], x[1]
    return 2 * a**2 - 1.05 * a**4 + a**6 / 6 + a * b + b**2


def matyas(x):
    return 0.26 * (x[0] ** 2 + x[1] ** 2) - 0.48 * x[0] * x[1]


def sphere(x):
    return (x**2).sum()


def styblinski_tang(x):
    return 0.5 * (x**4 - 16 * x**2 + 5 * x).sum()


FUNCS = {
    "rosenbrock": (rosenbrock, [-1.5, 2.0]),
    "beale": (beale, [1.0, 1.5]),
    "booth": (booth, [-5.0, 5.0]),
    "himmelblau": (himmelblau, [0.5, -0.5]),
    "three_hump_camel": (three_hump_camel, [1.5, -1.0]),
    "matyas": (matyas, [4.0, -3.0]),
    "sphere": (sphere, [1.0, -2.0, 0.5, 3.0, -1.5]),
    "styblinski_tang": (styblinski_tang, [0.5, -1.0, 2.0]),
}


def torch_opt(name, p, s):
    """Our name and keys -> a torch optimizer on [p] (single-tensor path)."""
    s = dict(s)
    kw = {"foreach": False}
    if "eta_minus" in s or "eta_plus" in s:
        kw["etas"] = (s.pop("eta_minus", 0.5), s.pop("eta_plus", 1.2))
    if "step_size_min" in s or "step_size_max" in s:
        kw["step_sizes"] = (s.pop("step_size_min", 1e-6), s.pop("step_size_max", 50.0))
    if "beta1" in s or "beta2" in s:
        defaults = {"adamax": (0.9, 0.999), "nadam": (0.9, 0.999)}.get(name, (0.9, 0.999))
        kw["betas"] = (s.pop("beta1", defaults[0]), s.pop("beta2", defaults[1]))
    kw.update(s)
    cls = {
        "sgd": torch.optim.SGD,
        "adagrad": torch.optim.Adagrad,
        "adadelta": torch.optim.Adadelta,
        "rmsprop": torch.optim.RMSprop,
        "adam": torch.optim.Adam,
        "adamw": torch.optim.AdamW,
        "adamax": torch.optim.Adamax,
        "nadam": torch.optim.NAdam,
        "radam": torch.optim.RAdam,
        "rprop": torch.optim.Rprop,
        "asgd": torch.optim.ASGD,
    }[name]
    return cls([p], **kw)


def torch_sched(opt, spec):
    """A torch scheduler for one of our schedule texts used below."""
    kind, args = spec
    L = torch.optim.lr_scheduler
    return {
        "step": lambda: L.StepLR(opt, **args),
        "cosine": lambda: L.CosineAnnealingLR(opt, **args),
        "exponential": lambda: L.ExponentialLR(opt, **args),
        "onecycle": lambda: L.OneCycleLR(opt, cycle_momentum=False, **args),
        "linear": lambda: L.LinearLR(opt, **args),
    }[kind]()


def run(case):
    f, default_start = FUNCS[case["function"]]
    start = case.get("start", default_start)
    p = torch.tensor(start, requires_grad=True)
    opt = torch_opt(case["optimizer"], p, case["set"])
    sched = torch_sched(opt, case["torch_schedule"]) if "torch_schedule" in case else None
    sign = -1.0 if case.get("negate") else 1.0
    traj = [p.detach().tolist()]
    grads = []
    for _ in range(case["steps"]):
        opt.zero_grad()
        loss = sign * f(p)
        loss.backward()
        grads.append(p.grad.detach().tolist())
        opt.step()
        if sched is not None:
            sched.step()
        row = p.detach().tolist()
        if not all(math.isfinite(v) for v in row):
            raise SystemExit(f"case {case['id']} diverged; pick gentler settings")
        traj.append(row)
    out = {k: v for k, v in case.items() if k != "torch_schedule"}
    out["start"] = start
    out["trajectory"] = traj
    out["grads"] = grads
    return out


# (optimizer, settings list, functions). lr per function family keeps every run finite.
SPREAD = {
    "sgd": [
        {"lr": 1e-3},
        {"lr": 1e-3, "momentum": 0.9},
        {"lr": 1e-3, "momentum": 0.9, "nesterov": True},
        {"lr": 1e-3, "momentum": 0.8, "dampening": 0.3},
        {"lr": 1e-3, "momentum": 0.9, "weight_decay": 0.1},
        {"lr": 1e-3, "momentum": 0.5, "maximize": True, "negate": True},
    ],
    "adagrad": [
        {"lr": 0.1},
        {"lr": 0.1, "lr_decay": 0.01},
        {"lr": 0.1, "weight_decay": 0.05, "initial_accumulator_value": 0.1},
        {"lr": 0.05, "eps": 1e-3, "maximize": True, "negate": True},
    ],
    "adadelta": [
        {"lr": 1.0},
        {"lr": 0.5, "rho": 0.95, "eps": 1e-4},
        {"lr": 1.0, "weight_decay": 0.1},
        {"lr": 1.0, "maximize": True, "negate": True},
    ],
    "rmsprop": [
        {"lr": 1e-2},
        {"lr": 1e-2, "centered": True},
        {"lr": 1e-3, "momentum": 0.9},
        {"lr": 1e-3, "momentum": 0.5, "centered": True, "weight_decay": 0.1},
        {"lr": 1e-2, "alpha": 0.9, "eps": 1e-6, "maximize": True, "negate": True},
    ],
    "adam": [
        {"lr": 1e-2},
        {"lr": 1e-2, "amsgrad": True},
        {"lr": 1e-2, "beta1": 0.5, "beta2": 0.9},
        {"lr": 1e-2, "weight_decay": 0.1},
        {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True},
        {"lr": 5e-2, "beta1": 0.3, "eps": 1e-4, "amsgrad": True, "weight_decay": 0.01},
        {"lr": 1e-2, "maximize": True, "negate": True},
    ],
    "adamw": [
        {"lr": 1e-2},
        {"lr": 1e-2, "weight_decay": 0.1, "amsgrad": True},
    ],
    "adamax": [
        {"lr": 2e-2},
        {"lr": 2e-2, "beta1": 0.8, "beta2": 0.99, "weight_decay": 0.05},
        {"lr": 1e-2, "maximize": True, "negate": True},
    ],
    "nadam": [
        {"lr": 1e-2},
        {"lr": 1e-2, "momentum_decay": 1e-2},
        {"lr": 1e-2, "weight_decay": 0.1},
        {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True},
        {"lr": 1e-2, "beta1": 0.4, "maximize": True, "negate": True},
    ],
    "radam": [
        {"lr": 1e-2},
        {"lr": 1e-2, "beta2": 0.9},
        {"lr": 1e-2, "weight_decay": 0.1},
        {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True},
        {"lr": 1e-2, "maximize": True, "negate": True},
    ],
    "rprop": [
        {"lr": 1e-2},
        {"lr": 1e-3, "eta_minus": 0.3, "eta_plus": 1.5},
        {"lr": 1e-2, "step_size_min": 1e-3, "step_size_max": 0.05},
        {"lr": 0.1, "eta_minus": 0.7, "eta_plus": 1.1, "step_size_max": 1.0},
        {"lr": 1e-2, "maximize": True, "negate": True},
    ],
    "asgd": [
        {"lr": 1e-3},
        {"lr": 1e-3, "lambd": 0.01, "t0": 20, "alpha": 0.5},
        {"lr": 1e-3, "lambd": 0.1, "t0": 0, "weight_decay": 0.1},
        {"lr": 1e-3, "t0": 50, "maximize": True, "negate": True},
    ],
}
FUNCTIONS = ["rosenbrock", "beale", "booth", "himmelblau", "three_hump_camel", "sphere", "styblinski_tang"]
STEPS = 150


def cases():
    out = []
    for opt, settings in SPREAD.items():
        for si, s in enumerate(settings):
            s = dict(s)
            negate = s.pop("negate", False)
            for fn in FUNCTIONS:
                c = {"id": f"{opt}-{si}-{fn}", "optimizer": opt, "set": s, "function": fn, "steps": STEPS}
                if negate:
                    c["negate"] = True
                out.append(c)
    # Optimizer + lr scheduler (closed forms on our side, torch's recursive forms here).
    sched_cases = [
        ("sgd", {"lr": 1e-3, "momentum": 0.9}, "step(step_size=30, gamma=0.5)", ("step", {"step_size": 30, "gamma": 0.5})),
        ("adam", {"lr": 5e-2}, "cosine(t_max=100, eta_min=0.001)", ("cosine", {"T_max": 100, "eta_min": 0.001})),
        ("rmsprop", {"lr": 1e-2}, "exponential(gamma=0.98)", ("exponential", {"gamma": 0.98})),
        ("adamw", {"lr": 2e-2}, "one_cycle(total_steps=150)", ("onecycle", {"max_lr": 2e-2, "total_steps": 150})),
        ("nadam", {"lr": 1e-2}, "linear(start_factor=0.1, total_iters=40)", ("linear", {"start_factor": 0.1, "total_iters": 40})),
    ]
    for opt, s, ours, theirs in sched_cases:
        for fn in ["rosenbrock", "beale", "himmelblau"]:
            out.append({
                "id": f"{opt}-sched-{theirs[0]}-{fn}",
                "optimizer": opt,
                "set": s,
                "schedule": {"lr": ours},
                "torch_schedule": theirs,
                "function": fn,
                "steps": STEPS,
            })
    return out


def main():
    result = {
        "generator": "tools/torch_golden/gen_optim.py",
        "torch_version": torch.__version__,
        "dtype": "float64",
        "steps_rule": "row 0 is the start; row i is the parameter after optimizer step i",
        "cases": [run(c) for c in cases()],
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as fh:
        json.dump(result, fh, indent=None, separators=(",", ":"))
        fh.write("\n")
    print(f"wrote {len(result['cases'])} cases to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
