"""torch.optim step() timings on the shapes `optlab bench step` uses, for the side-by-side ratio.

Called by `optlab bench step` (or by hand):
    python3 tools/bench/torch_step.py --labels 'adam;sgd:momentum=0.9' --sizes 10000000 --threads 2 --repeats 15 \
        --torch-classes adam=Adam,sgd=SGD
prints one JSON object per line: {"label", "impl" (loop|foreach|fused), "min_ms", "median_ms",
"probe_median_ms"} or {"label", "impl", "status": "n/a: ..."} where torch lacks that implementation
on CPU. "probe_median_ms" is torch's own bandwidth probe, `a.add_(b, alpha=s)` over tensors of the
same sizes, timed just before each timed step (as optlab's probe is), so that torch's step can be
set against the memory-bandwidth limit seen by the same process at the same moment.

Parameters: float32, randn; gradients fixed randn; WARMUP untimed steps (state allocation and
RAdam's rectification), then `repeats` individually timed steps. Labels are optlab optimizer
names with optional `:key=value,...` settings, mapped to the torch optimizer with the same update
by `--torch-classes` (from optlab's registry; a label without a class reports "n/a").
"""
import argparse
import inspect
import json
import statistics
import sys
import time

import torch

WARMUP = 5


# optlab splits torch's tuple arguments into named keys (betas -> beta1, beta2; ...).
TUPLES = {
    "betas": ("beta1", "beta2"),
    "etas": ("eta_minus", "eta_plus"),
    "step_sizes": ("step_size_min", "step_size_max"),
}

# optlab name -> torch.optim class name, from the registry (`--torch-classes`, passed by
# `optlab bench step`; `optlab optimizers --json` lists the same as each entry's parity class).
CLASSES = {}


def torch_ctor(label):
    name, _, rest = label.partition(":")
    kw = {}
    for kv in filter(None, rest.split(",")):
        k, v = kv.split("=")
        try:
            kw[k] = {"true": True, "false": False}[v] if v in ("true", "false") else float(v)
        except ValueError:
            kw[k] = v
    # clipping and bf16 state (state_dtype, state_seed): optlab's side only
    if name not in CLASSES or any(k in kw for k in ("clip_norm", "clip_value", "state_dtype", "state_seed")):
        return None
    cls = getattr(torch.optim, CLASSES[name])
    defaults = inspect.signature(cls.__init__).parameters
    for tup, (a, b) in TUPLES.items():
        if a in kw or b in kw:
            da, db = defaults[tup].default
            kw[tup] = (kw.pop(a, da), kw.pop(b, db))
    return cls, kw


def bench(label, impl, sizes, threads, repeats):
    torch.set_num_threads(threads)
    ctor = torch_ctor(label)
    if ctor is None:
        return {"label": label, "impl": impl, "status": "n/a: no torch equivalent"}
    cls, kw = ctor
    g = torch.Generator().manual_seed(0)
    params = []
    for n in sizes:
        p = torch.nn.Parameter(torch.randn(n, generator=g))
        p.grad = torch.randn(n, generator=g)
        params.append(p)
    flags = {"loop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}[impl]
    try:
        opt = cls(params, **kw, **flags)
        opt.step()
    except Exception as e:  # e.g. fused not implemented for this optimizer on CPU
        return {"label": label, "impl": impl, "status": "n/a: " + str(e).split("\n")[0][:60]}
    pa = [torch.ones(n) for n in sizes]
    pb = [torch.full((n,), 0.5) for n in sizes]

    def probe():
        t0 = time.perf_counter()
        for a, b in zip(pa, pb):
            a.add_(b, alpha=1e-7)
        return (time.perf_counter() - t0) * 1e3

    for _ in range(WARMUP):
        opt.step()
        probe()
    times, probes = [], []
    for _ in range(repeats):
        probes.append(probe())
        t0 = time.perf_counter()
        opt.step()
        times.append((time.perf_counter() - t0) * 1e3)
    return {
        "label": label,
        "impl": impl,
        "min_ms": min(times),
        "median_ms": statistics.median(times),
        "probe_median_ms": statistics.median(probes),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", required=True)
    ap.add_argument("--sizes", required=True, help="comma-separated tensor sizes, e.g. 50000,50000,...")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--impls", default="loop,foreach,fused")
    ap.add_argument("--torch-classes", default="", help="name=Class,... (optlab names to torch.optim classes)")
    a = ap.parse_args()
    CLASSES.update(dict(kv.split("=") for kv in filter(None, a.torch_classes.split(","))))
    sizes = [int(s) for s in a.sizes.split(",")]
    for label in a.labels.split(";"):
        for impl in a.impls.split(","):
            print(json.dumps(bench(label, impl, sizes, a.threads, a.repeats)), flush=True)
    print(json.dumps({"torch_version": torch.__version__}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
