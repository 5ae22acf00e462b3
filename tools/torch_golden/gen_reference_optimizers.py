#!/usr/bin/env python3
"""Golden trajectories of the reference implementations of AdaBelief, NovoGrad and YellowFin.

References (float64 throughout, torch.set_default_dtype(torch.float64)):
- adabelief: the authors' package adabelief-pytorch (AdaBelief, print_change_log=False), and
  torch-optimizer's AdaBelief (a port of adabelief-pytorch 0.0.5) for the settings where the two
  agree with ours (no rectification, no amsgrad).
- novograd: torch-optimizer's NovoGrad (identical to NVIDIA NeMo's Novograd).
- yellowfin: the authors' PyTorch code, JianGoForIt/YellowFin_Pytorch tuner_utils/yellowfin.py
  (not on PyPI and not part of this repository: pass its path with --yellowfin, or set
  YELLOWFIN_PY). It is loaded unmodified, with two dtype shims injected into its module
  namespace: its `torch.FloatTensor` curvature window becomes float64 and its numpy float32
  variance accumulator becomes float64 (our tuner is f64; everything else is the code as is).
  The code's try/except restores a checkpoint on any error; any warning it logs aborts the
  generation instead, so no case contains a silent restore.

Test functions (formulas here, gradients by autograd; the Rust test has the same formulas):
  rosenbrock (1-x)^2 + 100 (y-x^2)^2
  beale      (1.5-x+xy)^2 + (2.25-x+xy^2)^2 + (2.625-x+xy^3)^2
  booth      (x+2y-7)^2 + (2x+y-5)^2

Each case: `set` holds OUR hyperparameter keys (crates/optlab-optim/src/optimizers/*.rs), chosen
to match the reference's convention; `reference` holds the reference call; trajectory row 0 is
the start, row i the point after step i; grads[i] is the autograd gradient used by step i+1
(computed at trajectory[i]). `negate: true` means the reference minimised f while ours runs with
maximize=true on -f (the same trajectory).

Regenerate (from the repository root):
  /work/venv/bin/pip install -r tools/torch_golden/requirements.txt
  git clone https://github.com/JianGoForIt/YellowFin_Pytorch /tmp/YellowFin_Pytorch
  /work/venv/bin/python tools/torch_golden/gen_reference_optimizers.py \
      --yellowfin /tmp/YellowFin_Pytorch/tuner_utils/yellowfin.py
writes crates/optlab-optim/tests/golden/reference_optimizers.json.
"""
import argparse
import hashlib
import importlib.metadata as md
import importlib.util
import json
import logging
import os
import sys
import types
import warnings

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
warnings.filterwarnings("ignore")

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "crates", "optlab-optim", "tests", "golden", "reference_optimizers.json")


def rosenbrock(v):
    x, y = v[0], v[1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def beale(v):
    x, y = v[0], v[1]
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def booth(v):
    x, y = v[0], v[1]
    return (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2


FUNCS = {"rosenbrock": rosenbrock, "beale": beale, "booth": booth}
STARTS = {"rosenbrock": [-1.5, 2.0], "beale": [1.0, 1.5], "booth": [-5.0, 5.0]}


def run(make_opt, function, start, steps, lr_factor=None):
    """Runs `steps` steps of the optimizer built by make_opt([p]) on FUNCS[function] from start."""
    f = FUNCS[function]
    p = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))
    opt = make_opt([p])
    if lr_factor is not None:
        opt.set_lr_factor(lr_factor)
    traj = [p.detach().tolist()]
    grads = []
    for _ in range(steps):
        opt.zero_grad()
        loss = f(p)
        loss.backward()
        grads.append(p.grad.detach().tolist())
        opt.step()
        traj.append(p.detach().tolist())
    for row in traj:
        for v in row:
            if not np.isfinite(v):
                raise RuntimeError("non-finite trajectory")
    return traj, grads


# --- AdaBelief -------------------------------------------------------------------------------


def adabelief_cases():
    from adabelief_pytorch import AdaBelief

    cases = []

    def add(cid, function, steps, ours, ref, negate=False, start=None):
        start = start or STARTS[function]
        kw = dict(ref)

        def make(params):
            return AdaBelief(params, print_change_log=False, **kw)

        traj, grads = run(make, function, start, steps)
        set_ = dict(ours)
        if negate:
            set_["maximize"] = True
        cases.append(dict(id=cid, optimizer="adabelief", package="adabelief-pytorch",
                          reference="adabelief_pytorch.AdaBelief(%s)" % ", ".join(f"{k}={v!r}" for k, v in kw.items()),
                          set=set_, function=function, start=start, steps=steps, negate=negate,
                          trajectory=traj, grads=grads))

    # Keys of ours -> the package's arguments (every argument given explicitly).
    def ref(lr, b1=0.9, b2=0.999, eps=1e-16, wd=0.0, decouple=True, fixed=False, ams=False, rect=False, sgd=True):
        return dict(lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd, weight_decouple=decouple, fixed_decay=fixed,
                    amsgrad=ams, rectify=rect, degenerated_to_sgd=sgd)

    add("adabelief_rosenbrock_paper", "rosenbrock", 300, {"lr": 0.01}, ref(0.01))
    add("adabelief_beale_l2", "beale", 200,
        {"lr": 0.01, "eps": 1e-8, "weight_decay": 0.01, "weight_decouple": False},
        ref(0.01, eps=1e-8, wd=0.01, decouple=False))
    add("adabelief_booth_decoupled", "booth", 200,
        {"lr": 0.05, "weight_decay": 0.05, "beta1": 0.8, "beta2": 0.99},
        ref(0.05, b1=0.8, b2=0.99, wd=0.05))
    add("adabelief_rosenbrock_fixed_decay", "rosenbrock", 200,
        {"lr": 0.005, "weight_decay": 1e-3, "fixed_decay": True},
        ref(0.005, wd=1e-3, fixed=True))
    add("adabelief_beale_amsgrad", "beale", 200,
        {"lr": 0.02, "eps": 1e-12, "amsgrad": True},
        ref(0.02, eps=1e-12, ams=True))
    add("adabelief_booth_amsgrad_l2", "booth", 150,
        {"lr": 0.1, "eps": 1e-8, "amsgrad": True, "weight_decay": 0.1, "weight_decouple": False},
        ref(0.1, eps=1e-8, ams=True, wd=0.1, decouple=False))
    add("adabelief_rosenbrock_rectify", "rosenbrock", 300, {"lr": 0.01, "rectify": True}, ref(0.01, rect=True))
    add("adabelief_booth_rectify_no_sgd", "booth", 150,
        {"lr": 0.05, "beta2": 0.99, "rectify": True, "degenerated_to_sgd": False, "weight_decay": 0.01},
        ref(0.05, b2=0.99, rect=True, sgd=False, wd=0.01))
    add("adabelief_beale_rectify_l2", "beale", 200,
        {"lr": 0.01, "eps": 1e-10, "rectify": True, "weight_decay": 0.02, "weight_decouple": False},
        ref(0.01, eps=1e-10, rect=True, wd=0.02, decouple=False))
    add("adabelief_booth_maximize", "booth", 150, {"lr": 0.05}, ref(0.05), negate=True)
    # Large eps: pins where eps enters (inside s every step, outside the square root, amsgrad's max).
    add("adabelief_rosenbrock_large_eps", "rosenbrock", 200, {"lr": 0.01, "eps": 0.01}, ref(0.01, eps=0.01))
    add("adabelief_beale_amsgrad_large_eps", "beale", 200, {"lr": 0.01, "eps": 1e-3, "amsgrad": True},
        ref(0.01, eps=1e-3, ams=True))
    return cases


def torch_optimizer_adabelief_cases():
    import torch_optimizer

    cases = []

    def add(cid, function, steps, ours, kw):
        traj, grads = run(lambda ps: torch_optimizer.AdaBelief(ps, **kw), function, STARTS[function], steps)
        cases.append(dict(id=cid, optimizer="adabelief", package="torch-optimizer",
                          reference="torch_optimizer.AdaBelief(%s)" % ", ".join(f"{k}={v!r}" for k, v in kw.items()),
                          set=ours, function=function, start=STARTS[function], steps=steps, negate=False,
                          trajectory=traj, grads=grads))

    # torch-optimizer's defaults: eps 1e-8, weight_decouple False, rectify False.
    add("adabelief_torch_optimizer_rosenbrock", "rosenbrock", 200,
        {"lr": 0.01, "eps": 1e-8, "weight_decouple": False}, dict(lr=0.01, betas=(0.9, 0.999)))
    add("adabelief_torch_optimizer_beale_l2", "beale", 200,
        {"lr": 0.01, "eps": 1e-8, "weight_decouple": False, "weight_decay": 0.05},
        dict(lr=0.01, betas=(0.9, 0.999), weight_decay=0.05))
    return cases


# --- NovoGrad --------------------------------------------------------------------------------


def novograd_cases():
    import torch_optimizer

    cases = []

    def add(cid, function, steps, ours, kw, negate=False):
        traj, grads = run(lambda ps: torch_optimizer.NovoGrad(ps, **kw), function, STARTS[function], steps)
        set_ = dict(ours)
        if negate:
            set_["maximize"] = True
        cases.append(dict(id=cid, optimizer="novograd", package="torch-optimizer",
                          reference="torch_optimizer.NovoGrad(%s)" % ", ".join(f"{k}={v!r}" for k, v in kw.items()),
                          set=set_, function=function, start=STARTS[function], steps=steps, negate=negate,
                          trajectory=traj, grads=grads))

    # torch-optimizer's betas default is (0.95, 0): betas are always given explicitly.
    add("novograd_rosenbrock", "rosenbrock", 300, {"lr": 0.005},
        dict(lr=0.005, betas=(0.95, 0.98), eps=1e-8))
    add("novograd_beale_weight_decay", "beale", 200, {"lr": 0.01, "weight_decay": 0.01},
        dict(lr=0.01, betas=(0.95, 0.98), weight_decay=0.01))
    add("novograd_booth_grad_averaging", "booth", 200, {"lr": 0.1, "grad_averaging": True, "weight_decay": 0.001},
        dict(lr=0.1, betas=(0.95, 0.98), grad_averaging=True, weight_decay=0.001))
    add("novograd_rosenbrock_amsgrad", "rosenbrock", 200, {"lr": 0.003, "beta2": 0.5, "amsgrad": True},
        dict(lr=0.003, betas=(0.95, 0.5), amsgrad=True))
    add("novograd_booth_beta2_zero", "booth", 150, {"lr": 0.05, "beta1": 0.9, "beta2": 0.0, "eps": 1e-6},
        dict(lr=0.05, betas=(0.9, 0.0), eps=1e-6))
    add("novograd_beale_maximize", "beale", 150, {"lr": 0.01}, dict(lr=0.01, betas=(0.95, 0.98)), negate=True)
    # Large eps: pins eps outside the square root.
    add("novograd_booth_large_eps", "booth", 150, {"lr": 0.05, "eps": 1.0}, dict(lr=0.05, betas=(0.95, 0.98), eps=1.0))
    return cases


# --- YellowFin -------------------------------------------------------------------------------


class _Shim(types.ModuleType):
    """A module that is `base` except for the given attributes."""

    def __init__(self, base, **over):
        super().__init__(base.__name__)
        self.__dict__.update(over)
        self._base = base

    def __getattr__(self, k):
        return getattr(self._base, k)


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record.getMessage())


def load_yellowfin(path):
    spec = importlib.util.spec_from_file_location("yellowfin_authors", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    # dtype shims: float64 curvature window and variance accumulator (see the module docstring).
    mod.torch = _Shim(torch, FloatTensor=lambda *shape: torch.zeros(*shape, dtype=torch.float64))
    mod.np = _Shim(np, float32=np.float64)
    with open(path, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    return mod, digest


def yellowfin_cases(mod):
    handler = _Collect()
    logging.getLogger().addHandler(handler)
    cases = []

    def add(cid, function, steps, ours, kw, lr_factor=None, negate=False):
        traj, grads = run(lambda ps: mod.YFOptimizer(ps, **kw), function, STARTS[function], steps, lr_factor)
        if handler.records:
            raise RuntimeError(f"{cid}: the YellowFin code logged warnings (a restore?): {handler.records[:3]}")
        set_ = dict(ours)
        if negate:
            set_["maximize"] = True
        call = ", ".join(f"{k}={v!r}" for k, v in kw.items())
        if lr_factor is not None:
            call += f"; set_lr_factor({lr_factor!r})"
        cases.append(dict(id=cid, optimizer="yellowfin", package="YellowFin_Pytorch",
                          reference=f"YFOptimizer({call})",
                          set=set_, function=function, start=STARTS[function], steps=steps, negate=negate,
                          trajectory=traj, grads=grads))

    add("yellowfin_rosenbrock_default", "rosenbrock", 300, {}, {})
    add("yellowfin_booth_default", "booth", 300, {}, {})
    add("yellowfin_beale_default", "beale", 300, {}, {})
    add("yellowfin_beale_no_clip", "beale", 250, {"adapt_clip": False}, dict(adapt_clip=False))
    add("yellowfin_rosenbrock_init_momentum", "rosenbrock", 200, {"lr": 1e-3, "mu": 0.5, "curv_win_width": 10},
        dict(lr=1e-3, mu=0.5, curv_win_width=10))
    add("yellowfin_booth_weight_decay_lr_factor", "booth", 200, {"weight_decay": 0.01, "lr_factor": 0.5},
        dict(weight_decay=0.01), lr_factor=0.5)
    add("yellowfin_rosenbrock_linear_smooth", "rosenbrock", 200,
        {"h_max_log_smooth": False, "h_min_log_smooth": False, "curv_win_width": 5},
        dict(h_max_log_smooth=False, h_min_log_smooth=False, curv_win_width=5))
    add("yellowfin_beale_no_debias", "beale", 200, {"zero_debias": False, "beta": 0.99},
        dict(zero_debias=False, beta=0.99))
    # The adaptive clipping at work: exploding-gradient clips (and 2 statistics clips) ...
    add("yellowfin_rosenbrock_exploding_clip", "rosenbrock", 300,
        {"lr": 0.01, "stat_protect_fac": 2.0, "catastrophic_move_thresh": 2.0},
        dict(lr=0.01, stat_protect_fac=2.0, catastrophic_move_thresh=2.0))
    # ... the catastrophic-move lr clamp (first step) ...
    add("yellowfin_booth_catastrophic_move", "booth", 200,
        {"lr": 0.1, "stat_protect_fac": 1.5, "catastrophic_move_thresh": 1.0},
        dict(lr=0.1, stat_protect_fac=1.5, catastrophic_move_thresh=1.0))
    # ... and a run clipped at every step, with 3 statistics clips.
    add("yellowfin_beale_clipped", "beale", 200, {"lr": 0.1}, dict(lr=0.1))
    add("yellowfin_rosenbrock_maximize", "rosenbrock", 200, {}, {}, negate=True)
    logging.getLogger().removeHandler(handler)
    return cases


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--yellowfin", default=os.environ.get("YELLOWFIN_PY"),
                    help="path of the authors' tuner_utils/yellowfin.py (JianGoForIt/YellowFin_Pytorch)")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    if not args.yellowfin:
        sys.exit("pass --yellowfin PATH (JianGoForIt/YellowFin_Pytorch tuner_utils/yellowfin.py) or set YELLOWFIN_PY")
    yf, digest = load_yellowfin(args.yellowfin)

    cases = adabelief_cases() + torch_optimizer_adabelief_cases() + novograd_cases() + yellowfin_cases(yf)
    packages = {name: md.version(name) for name in ["torch", "numpy", "adabelief-pytorch", "torch-optimizer"]}
    packages["YellowFin_Pytorch"] = ("tuner_utils/yellowfin.py at commit b87aed1 (\"adapt to pytorch 1.0\"), "
                                     f"sha256 {digest}, float64 shims for curv_win and _grad_var")
    out = {
        "generator": "tools/torch_golden/gen_reference_optimizers.py",
        "packages": packages,
        "notes": [
            "float64 throughout; grads[i] is the autograd gradient of step i+1, taken at trajectory[i]",
            "set holds optlab's keys chosen to match the reference's convention; reference is the call used",
            "negate: the reference minimised f, optlab runs maximize=true on -f",
            "yellowfin: the authors' code is not on PyPI; it was run unmodified except that its float32 curvature "
            "window (torch.FloatTensor) and float32 variance accumulator were made float64",
        ],
        "cases": cases,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(out, fh, indent=None, separators=(",", ":"))
        fh.write("\n")
    print(f"wrote {len(cases)} cases to {os.path.relpath(args.out)}")


if __name__ == "__main__":
    main()
