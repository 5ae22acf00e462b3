"""Golden trajectories of torch.optim's matrix optimizers in float64: Adafactor and Muon.

Writes crates/optlab-optim/tests/golden/torch_matrix.json. Unlike gen_optim.py (one vector on a
test function), each case steps several named tensors of given shapes (matrices, a rank-3 tensor,
vectors, a scalar), as a network's parameters, under the loss

    L = sum over tensors of sum_i 0.5 c_i (p_i - t_i)^2 + 0.1 sin(3 p_i)

with fixed c and t per tensor. Each case records the tensors' names and shapes, the start, the
trajectory (row 0 = the start, row i = after step i, each row the tensors flattened in order)
and the gradients torch used (open loop: the Rust test feeds them back).

Muon: torch's `_zeropower_via_newtonschulz` casts the update to bfloat16 whatever the parameter's
dtype. optlab computes Newton-Schulz in the parameters' dtype, so for the float64 goldens this
script replaces the function by the same code without the cast (`ns_float64` below); the bfloat16
trajectories' distance from the float64 ones is recorded in `meta.muon_bf16_vs_f64`.
Muon cases with a `groups` entry also step the listed tensors with torch.optim.AdamW (optlab's
`use_muon=false` groups).

Regenerate:  /work/venv/bin/python tools/torch_golden/gen_torch_matrix.py   (torch 2.15)
"""
import json
import math
import os

import torch
import torch.optim._muon as muon_mod

torch.set_default_dtype(torch.float64)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "crates", "optlab-optim", "tests", "golden", "torch_matrix.json")

ORIGINAL_NS = muon_mod._zeropower_via_newtonschulz


def ns_float64(grad, ns_coefficients, ns_steps, eps):
    """torch's _zeropower_via_newtonschulz without the bfloat16 cast."""
    a, b, c = ns_coefficients
    x = grad.clone()
    if grad.size(0) > grad.size(1):
        x = x.T
    x.div_(x.norm().clamp(min=eps))
    for _ in range(ns_steps):
        gram = x @ x.T
        upd = torch.addmm(gram, gram, gram, beta=b, alpha=c)
        x = torch.addmm(x, upd, x, beta=a)
    if grad.size(0) > grad.size(1):
        x = x.T
    return x


def noise(seed, i):
    return math.sin(seed * 12.9898 + i * 78.233) * 0.5 + 0.31 * math.cos(seed * 3.1 + i * 1.7)


def make_tensors(spec, seed):
    out = []
    for k, (name, shape) in enumerate(spec):
        n = math.prod(shape)
        start = torch.tensor([noise(seed + k, i) * 1.5 for i in range(n)]).reshape(shape)
        c = torch.tensor([0.5 + (i % 5) * 0.4 for i in range(n)]).reshape(shape)
        t = torch.tensor([noise(seed + 100 + k, i) for i in range(n)]).reshape(shape)
        out.append((name, shape, start, c, t))
    return out


def loss_of(params, tensors):
    loss = 0.0
    for p, (_, _, _, c, t) in zip(params, tensors):
        loss = loss + (0.5 * c * (p - t) ** 2 + 0.1 * torch.sin(3 * p)).sum()
    return loss


def run(case_id, optimizer, spec, steps, seed, make_opts, set_, groups=None):
    tensors = make_tensors(spec, seed)
    params = [torch.nn.Parameter(s.clone()) for (_, _, s, _, _) in tensors]
    opts = make_opts(params)
    flat = lambda: [v for p in params for v in p.detach().reshape(-1).tolist()]
    traj, grads = [flat()], []
    for _ in range(steps):
        for o in opts:
            o.zero_grad()
        loss_of(params, tensors).backward()
        grads.append([v for p in params for v in p.grad.reshape(-1).tolist()])
        for o in opts:
            o.step()
        traj.append(flat())
    case = {
        "id": case_id,
        "optimizer": optimizer,
        "set": set_,
        "tensors": [{"name": n, "shape": list(s)} for (n, s, _, _, _) in tensors],
        "steps": steps,
        "trajectory": traj,
        "grads": grads,
    }
    if groups:
        case["groups"] = groups
    return case


def adafactor_cases():
    shapes = [("m", [4, 5]), ("k", [2, 3, 4]), ("v", [6]), ("s", [])]
    cases = []
    settings = [
        ("default", {}, {}),
        ("lr", {"lr": "0.05"}, {"lr": 0.05}),
        ("weight_decay", {"lr": "0.05", "weight_decay": "0.1"}, {"lr": 0.05, "weight_decay": 0.1}),
        (
            "clipped",
            {"d": "1.5", "eps1": "1e-4", "eps2": "1e-2", "beta2_decay": "-0.5"},
            {"d": 1.5, "eps": (1e-4, 1e-2), "beta2_decay": -0.5},
        ),
        ("maximize", {"maximize": "true", "lr": "0.02"}, {"maximize": True, "lr": 0.02}),
        ("eps2_large", {"eps2": "1.0", "lr": "0.2", "d": "1.2"}, {"eps": (None, 1.0), "lr": 0.2, "d": 1.2}),
    ]
    for i, (name, set_, kw) in enumerate(settings):
        cases.append(
            run(
                f"adafactor_{name}",
                "adafactor",
                shapes,
                12,
                10 + i,
                lambda ps, kw=kw: [torch.optim.Adafactor(ps, **kw)],
                set_,
            )
        )
    return cases


def muon_cases():
    cases = []
    shapes = [("tall", [7, 4]), ("wide", [3, 6]), ("square", [5, 5])]
    settings = [
        ("default", {"lr": "0.02"}, {"lr": 0.02}),
        (
            "plain",
            {"lr": "0.03", "nesterov": "false", "weight_decay": "0", "ns_steps": "3"},
            {"lr": 0.03, "nesterov": False, "weight_decay": 0.0, "ns_steps": 3},
        ),
        (
            "match_rms_adamw",
            {"lr": "0.01", "adjust_lr_fn": "match_rms_adamw", "momentum": "0.9"},
            {"lr": 0.01, "adjust_lr_fn": "match_rms_adamw", "momentum": 0.9},
        ),
        (
            "spectral_unclamped",
            {"lr": "0.02", "adjust_lr_fn": "spectral_unclamped", "ns_a": "3.0", "ns_b": "-3.2", "ns_c": "1.2",
             "eps": "1e-5"},
            {"lr": 0.02, "adjust_lr_fn": "spectral_unclamped", "ns_coefficients": (3.0, -3.2, 1.2), "eps": 1e-5},
        ),
        ("momentum_low", {"lr": "0.02", "momentum": "0.3", "weight_decay": "0.5"},
         {"lr": 0.02, "momentum": 0.3, "weight_decay": 0.5}),
    ]
    for i, (name, set_, kw) in enumerate(settings):
        cases.append(
            run(f"muon_{name}", "muon", shapes, 10, 40 + i, lambda ps, kw=kw: [torch.optim.Muon(ps, **kw)], set_)
        )
    # Muon on the matrices, AdamW on the vectors (optlab: a use_muon=false group).
    mixed = [("fc1.weight", [6, 4]), ("fc1.bias", [6]), ("fc2.weight", [3, 6]), ("fc2.bias", [3])]
    group = {"tensors": ["*.bias"], "set": {"use_muon": "false", "lr": "0.01", "weight_decay": "0.02",
                                             "adamw_beta1": "0.8", "adamw_beta2": "0.99", "adamw_eps": "1e-6"}}

    def mixed_opts(ps):
        return [
            torch.optim.Muon([ps[0], ps[2]], lr=0.02),
            torch.optim.AdamW([ps[1], ps[3]], lr=0.01, weight_decay=0.02, betas=(0.8, 0.99), eps=1e-6),
        ]

    cases.append(run("muon_with_adamw_group", "muon", mixed, 10, 60, mixed_opts, {"lr": "0.02"}, [group]))
    return cases


def bf16_distance():
    """Max |difference| of the default Muon case's trajectory with torch's bfloat16 Newton-Schulz
    against the float64 one, after 1 and after 10 steps."""
    shapes = [("tall", [7, 4]), ("wide", [3, 6]), ("square", [5, 5])]
    muon_mod._zeropower_via_newtonschulz = ORIGINAL_NS
    bf = run("bf16", "muon", shapes, 10, 40, lambda ps: [torch.optim.Muon(ps, lr=0.02)], {})
    muon_mod._zeropower_via_newtonschulz = ns_float64
    f64 = run("f64", "muon", shapes, 10, 40, lambda ps: [torch.optim.Muon(ps, lr=0.02)], {})
    d = lambda k: max(abs(a - b) for a, b in zip(bf["trajectory"][k], f64["trajectory"][k]))
    return {"after_1_step": d(1), "after_10_steps": d(10), "lr": 0.02}


def main():
    muon_mod._zeropower_via_newtonschulz = ns_float64
    cases = adafactor_cases() + muon_cases()
    result = {
        "meta": {
            "torch": torch.__version__,
            "dtype": "float64",
            "muon_newton_schulz": "float64 (torch's bfloat16 cast removed; see the module docstring)",
            "muon_bf16_vs_f64": bf16_distance(),
        },
        "cases": cases,
    }
    with open(OUT, "w") as fh:
        json.dump(result, fh, indent=None, separators=(",", ":"))
    print(f"wrote {len(cases)} cases to {OUT}")
    print(json.dumps(result["meta"]))


if __name__ == "__main__":
    main()
