"""Golden runs of torch.optim.LBFGS (torch 2.15) in float64, for optlab's lbfgs parity test.

Each case: our `--set` keys, the function, the start, the number of optimizer steps (calls of
`step(closure)`), the trajectory (row 0 = the start, row i = after step i), and every closure
call in order: the point it was made at, the loss and the gradient (autograd of the formulas
below, which are optlab-functions' formulas). `evals_per_step[i]` is how many closure calls step
i+1 made (torch's own `state["func_evals"]` differences).

The Rust test (crates/optlab-optim/tests/lbfgs_parity.rs) runs optlab's lbfgs on the executor and
checks every evaluation point, every iterate and the evaluation counts: open loop (fed torch's
recorded loss and gradient at each evaluation) and closed loop (optlab-functions' analytic
values at its own points).

Regenerate:  venv/bin/python tools/torch_golden/gen_lbfgs.py
"""
import json
import math
import os

import torch

torch.set_default_dtype(torch.float64)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "crates", "optlab-optim", "tests", "golden", "torch_lbfgs.json")


def rosenbrock(x):
    return sum((1 - x[i]) ** 2 + 100 * (x[i + 1] - x[i] ** 2) ** 2 for i in range(len(x) - 1))


def beale(x):
    a, b = x[0], x[1]
    return (1.5 - a + a * b) ** 2 + (2.25 - a + a * b**2) ** 2 + (2.625 - a + a * b**3) ** 2


def booth(x):
    return (x[0] + 2 * x[1] - 7) ** 2 + (2 * x[0] + x[1] - 5) ** 2


def matyas(x):
    return 0.26 * (x[0] ** 2 + x[1] ** 2) - 0.48 * x[0] * x[1]


FUNCS = {
    "rosenbrock": (rosenbrock, [-1.5, 2.0]),
    "beale": (beale, [1.0, 1.5]),
    # Two quadratics: booth (well conditioned) and matyas (eigenvalues 0.02 and 0.5).
    "booth": (booth, [-5.0, 5.0]),
    "matyas": (matyas, [4.0, -3.0]),
}


def run(case):
    f, default_start = FUNCS[case["function"]]
    start = case.get("start", default_start)
    p = torch.tensor(start, requires_grad=True)
    s = dict(case["set"])
    kw = {}
    for k in ("lr", "tolerance_grad", "tolerance_change"):
        if k in s:
            kw[k] = float(s[k])
    for k in ("max_iter", "history_size"):
        if k in s:
            kw[k] = int(s[k])
    if "max_eval" in s and int(s["max_eval"]) != 0:
        kw["max_eval"] = int(s["max_eval"])
    if s.get("line_search_fn", "none") != "none":
        kw["line_search_fn"] = s["line_search_fn"]
    if s.get("maximize") == "true":
        kw["maximize"] = True
    # `negate`: the objective given to torch is -f (maximize=true on it descends f).
    sign = -1.0 if case.get("negate") else 1.0
    opt = torch.optim.LBFGS([p], **kw)
    evals = []

    def closure():
        opt.zero_grad()
        loss = sign * f(p)
        loss.backward()
        evals.append(
            {"x": p.detach().tolist(), "f": float(loss.detach()), "g": p.grad.detach().tolist()}
        )
        return loss

    traj = [p.detach().tolist()]
    per_step = []
    for _ in range(case["steps"]):
        before = len(evals)
        opt.step(closure)
        per_step.append(len(evals) - before)
        row = p.detach().tolist()
        if not all(math.isfinite(v) for v in row):
            raise SystemExit(f"case {case['id']} diverged; pick gentler settings")
        traj.append(row)
    state = opt.state[p]
    assert state["func_evals"] == len(evals), (state["func_evals"], len(evals))
    out = dict(case)
    out["start"] = start
    out["trajectory"] = traj
    out["evals"] = evals
    out["evals_per_step"] = per_step
    return out


def cases():
    out = []
    for fn, steps in (("rosenbrock", 4), ("beale", 3), ("booth", 2), ("matyas", 3)):
        for ls in ("none", "strong_wolfe"):
            for hist in (1, 3, 100):
                s = {"line_search_fn": ls, "history_size": str(hist)}
                if ls == "none":
                    # Without a line search a unit step overshoots on these functions.
                    s["lr"] = {"rosenbrock": "0.05", "beale": "0.2", "booth": "0.1", "matyas": "0.5"}[fn]
                    s["max_iter"] = "5"
                out.append({"id": f"{fn}-{ls}-h{hist}", "function": fn, "set": s, "steps": steps})
    # Other options: max_iter and max_eval budgets, tolerances, maximize (of -f), rosenbrock in 4-D.
    out += [
        {"id": "rosenbrock-wolfe-maxeval7", "function": "rosenbrock",
         "set": {"line_search_fn": "strong_wolfe", "max_iter": "10", "max_eval": "7"}, "steps": 5},
        {"id": "rosenbrock-none-maxiter1", "function": "rosenbrock",
         "set": {"lr": "0.01", "max_iter": "1"}, "steps": 12},
        {"id": "beale-wolfe-tolchange", "function": "beale",
         "set": {"line_search_fn": "strong_wolfe", "tolerance_change": "1e-3", "tolerance_grad": "1e-4"},
         "steps": 3},
        {"id": "booth-wolfe-lr0.5", "function": "booth",
         "set": {"line_search_fn": "strong_wolfe", "lr": "0.5", "history_size": "2"}, "steps": 2},
        {"id": "rosenbrock4-wolfe-h5", "function": "rosenbrock", "start": [-1.2, 1.0, -0.5, 0.8],
         "set": {"line_search_fn": "strong_wolfe", "history_size": "5", "max_iter": "8"}, "steps": 3},
        {"id": "matyas-none-maximize", "function": "matyas",
         "set": {"lr": "0.5", "max_iter": "4", "maximize": "true"}, "negate": True, "steps": 2},
    ]
    return out


def main():
    res = [run(c) for c in cases()]
    with open(OUT, "w") as fh:
        json.dump({"torch": torch.__version__, "cases": res}, fh)
    print(f"wrote {len(res)} cases to {os.path.relpath(OUT)}")


if __name__ == "__main__":
    main()
