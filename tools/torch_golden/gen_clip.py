"""Golden trajectories of torch's gradient clipping (float64), for optlab's clipping tests.

For each case: two tensors (`w`, 6 elements; `b`, 3 elements), a fixed sequence of gradients
(scaled so that clipping is active on some steps and not on others), and torch's
`clip_grad_norm_(params, max_norm, norm_type=2)` or `clip_grad_value_(params, v)` applied before
`opt.step()`. Records the parameters after every step and the total norm that `clip_grad_norm_`
returned (the norm before clipping). Writes crates/optlab-optim/tests/golden/clip.json.

Regenerate:  /work/venv/bin/python tools/torch_golden/gen_clip.py   (any venv with torch)
"""
import json
import os

import torch

torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "crates", "optlab-optim", "tests", "golden", "clip.json")

STEPS = 8
# Gradient scale per step: large on some steps (clipped), small on others (not clipped).
SCALES = [5.0, 0.1, 3.0, 0.05, 10.0, 0.2, 1.0, 0.01]


def grads_for(gen):
    out = []
    for s in SCALES:
        out.append([(torch.randn(6, generator=gen) * s).tolist(), (torch.randn(3, generator=gen) * s).tolist()])
    return out


def run(opt_name, opt_args, set_keys, clip):
    gen = torch.Generator().manual_seed(17)
    w = torch.nn.Parameter(torch.randn(6, generator=gen))
    b = torch.nn.Parameter(torch.randn(3, generator=gen))
    start = [w.detach().tolist(), b.detach().tolist()]
    grads = grads_for(gen)
    opt = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}[opt_name]([w, b], **opt_args)
    traj, norms, clipped = [], [], []
    for gw, gb in grads:
        w.grad = torch.tensor(gw)
        b.grad = torch.tensor(gb)
        if clip[0] == "norm":
            n = torch.nn.utils.clip_grad_norm_([w, b], clip[1], norm_type=2)
            norms.append(float(n))
            clipped.append(bool(float(n) > clip[1]))
        else:
            n = torch.sqrt(w.grad.pow(2).sum() + b.grad.pow(2).sum())
            norms.append(float(n))
            clipped.append(bool(max(w.grad.abs().max(), b.grad.abs().max()) > clip[1]))
            torch.nn.utils.clip_grad_value_([w, b], clip[1])
        opt.step()
        traj.append([w.detach().tolist(), b.detach().tolist()])
    return {
        "optimizer": opt_name,
        "set": set_keys,
        "clip": clip[0],
        "limit": clip[1],
        "start": start,
        "grads": grads,
        "trajectory": traj,
        "grad_norms": norms,
        "clipped": clipped,
    }


cases = []
for clip in [("norm", 1.0), ("value", 0.5)]:
    cases.append(run("adam", {"lr": 0.01}, {"lr": "0.01"}, clip))
    cases.append(run("sgd", {"lr": 0.1, "momentum": 0.9}, {"lr": "0.1", "momentum": "0.9"}, clip))
for c in cases:
    assert any(c["clipped"]) and not all(c["clipped"]), c["clip"]
with open(OUT, "w") as f:
    json.dump({"cases": cases}, f, indent=1)
print("wrote", OUT, len(cases), "cases")
