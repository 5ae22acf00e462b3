#!/usr/bin/env python3
"""Golden learning-rate curves from the real torch.optim.lr_scheduler.

For every case we build the torch scheduler that our schedule text describes,
run the canonical loop

    for t in range(T):
        values.append(opt.param_groups[0]["lr"])   # the lr used by step t
        opt.step()
        sched.step()            # or sched.step(metrics[t]) for ReduceLROnPlateau

and record the values.  Our `Schedule::value(base, t)` must reproduce them
(crates/optlab-optim/tests/schedule_parity.rs); for plateau, `observe(metrics[t], t + 1)`
is called after value(base, t) has been read.

Usage (from the repository root):
    /work/venv/bin/python tools/torch_golden/gen_schedules.py
writes crates/optlab-optim/tests/golden/schedules.json.
"""

import json
import math
import os
import warnings

import torch
from torch.optim import lr_scheduler as S

torch.set_default_dtype(torch.float64)
warnings.filterwarnings("ignore")

OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "crates", "optlab-optim", "tests", "golden", "schedules.json"
)


def make_opt(base):
    p = torch.nn.Parameter(torch.zeros(2))
    p.grad = torch.ones(2)
    return torch.optim.SGD([p], lr=base)


# Deterministic metric sequences for ReduceLROnPlateau.
M_DECREASE_THEN_FLAT = [1.0, 0.8, 0.7, 0.69995, 0.7, 0.71, 0.70, 0.65, 0.65, 0.66, 0.66, 0.66, 0.5, 0.5, 0.5,
                        0.5, 0.5, 0.4999, 0.49, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
M_ACCURACY = [0.1, 0.3, 0.35, 0.42, 0.43, 0.44, 0.5, 0.55, 0.56, 0.6, 0.61, 0.6, 0.62, 0.7, 0.71, 0.72, 0.73, 0.74,
              0.75, 0.9, 0.9, 0.91, 0.92, 0.93, 0.99, 0.99, 0.99, 0.99, 0.99, 0.99]
M_NOISY = [5.0, 4.0, 4.5, 3.9, 3.95, 3.96, 3.0, 3.01, 2.995, 3.2, 3.0, 2.9, 2.95, 2.99, 2.0, 2.1, 2.2, 2.3, 2.4, 2.5,
           1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4]
M_INCREASING = [float(i) for i in range(1, 21)]
M_WITH_INF = [math.inf, 3.0, 3.0, 2.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]


def plateau(**kw):
    return lambda o: S.ReduceLROnPlateau(o, **kw)


CASES = [
    # ---- ConstantLR
    ("constant_default", "constant", 0.1, 5, lambda o: S.ConstantLR(o, factor=1.0, total_iters=0)),
    ("constant_half_4", "constant(factor=0.5, total_iters=4)", 0.1, 10, lambda o: S.ConstantLR(o, factor=0.5, total_iters=4)),
    ("constant_quarter_7", "constant(factor=0.25, total_iters=7)", 0.05, 12,
     lambda o: S.ConstantLR(o, factor=0.25, total_iters=7)),
    ("constant_third_5", "constant(factor=1/3, total_iters=5)", 0.1, 8, lambda o: S.ConstantLR(o)),
    # ---- StepLR
    ("step_3", "step(step_size=3)", 0.1, 12, lambda o: S.StepLR(o, step_size=3)),
    ("step_5_half", "step(step_size=5, gamma=0.5)", 0.05, 30, lambda o: S.StepLR(o, step_size=5, gamma=0.5)),
    ("step_1_09", "step(step_size=1, gamma=0.9)", 0.1, 40, lambda o: S.StepLR(o, step_size=1, gamma=0.9)),
    # ---- MultiStepLR
    ("multistep_2_5_9", "multistep(milestones=[2,5,9])", 0.1, 12, lambda o: S.MultiStepLR(o, milestones=[2, 5, 9])),
    ("multistep_dup_zero", "multistep(milestones=[0, 3, 3, 7], gamma=0.5)", 0.05, 10,
     lambda o: S.MultiStepLR(o, milestones=[0, 3, 3, 7], gamma=0.5)),
    # ---- ExponentialLR
    ("exponential_09", "exponential(gamma=0.9)", 0.1, 60, lambda o: S.ExponentialLR(o, gamma=0.9)),
    ("exponential_05", "exponential(gamma=0.5)", 0.05, 30, lambda o: S.ExponentialLR(o, gamma=0.5)),
    ("exponential_grow", "exponential(gamma=1.05)", 0.1, 20, lambda o: S.ExponentialLR(o, gamma=1.05)),
    # ---- PolynomialLR
    ("polynomial_default", "polynomial", 0.1, 10, lambda o: S.PolynomialLR(o)),
    ("polynomial_8_2", "polynomial(total_iters=8, power=2)", 0.05, 12, lambda o: S.PolynomialLR(o, total_iters=8, power=2.0)),
    ("polynomial_20_05", "polynomial(total_iters=20, power=0.5)", 0.1, 25,
     lambda o: S.PolynomialLR(o, total_iters=20, power=0.5)),
    # ---- LinearLR
    ("linear_default", "linear", 0.1, 8, lambda o: S.LinearLR(o)),
    ("linear_01_09_6", "linear(start_factor=0.1, end_factor=0.9, total_iters=6)", 0.05, 10,
     lambda o: S.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=6)),
    ("linear_decay", "linear(start_factor=1, end_factor=0.05, total_iters=10)", 0.1, 15,
     lambda o: S.LinearLR(o, start_factor=1.0, end_factor=0.05, total_iters=10)),
    ("linear_to_zero", "linear(start_factor=0.5, end_factor=0, total_iters=4)", 0.1, 8,
     lambda o: S.LinearLR(o, start_factor=0.5, end_factor=0.0, total_iters=4)),
    # ---- CosineAnnealingLR (three periods: torch's recursive form keeps going periodically)
    ("cosine_10", "cosine(t_max=10)", 0.1, 31, lambda o: S.CosineAnnealingLR(o, T_max=10)),
    ("cosine_7_etamin", "cosine(t_max=7, eta_min=0.01)", 0.05, 22, lambda o: S.CosineAnnealingLR(o, T_max=7, eta_min=0.01)),
    ("cosine_1_etamin", "cosine(t_max=1, eta_min=0.001)", 0.1, 6, lambda o: S.CosineAnnealingLR(o, T_max=1, eta_min=0.001)),
    ("cosine_100", "cosine(t_max=100, eta_min=0.0001)", 0.1, 301,
     lambda o: S.CosineAnnealingLR(o, T_max=100, eta_min=0.0001)),
    # ---- CosineAnnealingWarmRestarts
    ("cosine_restarts_5", "cosine_restarts(t_0=5)", 0.1, 20, lambda o: S.CosineAnnealingWarmRestarts(o, T_0=5)),
    ("cosine_restarts_3_x2", "cosine_restarts(t_0=3, t_mult=2, eta_min=0.001)", 0.05, 50,
     lambda o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.001)),
    ("cosine_restarts_2_x3", "cosine_restarts(t_0=2, t_mult=3)", 0.1, 40,
     lambda o: S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=3)),
    # ---- CyclicLR (cycle_momentum=False: only the lr curve)
    ("cyclic_triangular", "cyclic(max=0.5, step_size_up=4)", 0.1, 30,
     lambda o: S.CyclicLR(o, base_lr=0.1, max_lr=0.5, step_size_up=4, cycle_momentum=False)),
    ("cyclic_triangular_asym", "cyclic(max=0.3, step_size_up=2, step_size_down=5, base=0.02)", 0.1, 30,
     lambda o: S.CyclicLR(o, base_lr=0.02, max_lr=0.3, step_size_up=2, step_size_down=5, cycle_momentum=False)),
    ("cyclic_triangular2", "cyclic(max=0.5, step_size_up=3, step_size_down=5, mode=triangular2, base=0.01)", 0.1, 40,
     lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.5, step_size_up=3, step_size_down=5, mode="triangular2",
                          cycle_momentum=False)),
    ("cyclic_exp_range", "cyclic(max=0.3, step_size_up=4, mode=exp_range, gamma=0.95)", 0.05, 40,
     lambda o: S.CyclicLR(o, base_lr=0.05, max_lr=0.3, step_size_up=4, mode="exp_range", gamma=0.95,
                          cycle_momentum=False)),
    ("cyclic_downward", "cyclic(max=0.8, base=0.95, step_size_up=3)", 0.1, 20,
     lambda o: S.CyclicLR(o, base_lr=0.95, max_lr=0.8, step_size_up=3, cycle_momentum=False)),
    # ---- OneCycleLR (cycle_momentum=False)
    ("one_cycle_cos", "one_cycle(max=0.5, total_steps=30)", 0.1, 30,
     lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=30, cycle_momentum=False)),
    ("one_cycle_linear", "one_cycle(max=0.5, total_steps=25, pct_start=0.4, anneal=linear)", 0.1, 25,
     lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=25, pct_start=0.4, anneal_strategy="linear",
                            cycle_momentum=False)),
    ("one_cycle_three_phase_base_peak", "one_cycle(total_steps=40, three_phase=true)", 0.1, 40,
     lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=40, three_phase=True, cycle_momentum=False)),
    ("one_cycle_three_phase_linear",
     "one_cycle(max=1, total_steps=20, anneal=linear, div_factor=10, final_div_factor=100, three_phase=true)", 0.05, 20,
     lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=20, anneal_strategy="linear", div_factor=10.0,
                            final_div_factor=100.0, three_phase=True, cycle_momentum=False)),
    ("one_cycle_short_warmup", "one_cycle(max=0.2, total_steps=3, pct_start=0.25)", 0.1, 3,
     lambda o: S.OneCycleLR(o, max_lr=0.2, total_steps=3, pct_start=0.25, cycle_momentum=False)),
    # ---- our warmup == LinearLR(start_factor, 1, steps) when start_factor > 0
    ("warmup_5_01", "warmup(steps=5, start_factor=0.1)", 0.1, 10,
     lambda o: S.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=5)),
    # ---- ReduceLROnPlateau
    ("plateau_min_rel_p2", "plateau(patience=2)", 0.1, M_DECREASE_THEN_FLAT, plateau(patience=2)),
    ("plateau_min_rel_cooldown", "plateau(factor=0.5, patience=1, cooldown=2, threshold=0.01)", 0.05,
     M_NOISY, plateau(factor=0.5, patience=1, cooldown=2, threshold=0.01)),
    ("plateau_min_abs_min", "plateau(factor=0.5, patience=0, threshold=0.01, threshold_mode=abs, cooldown=1, min=0.02)",
     0.1, M_NOISY, plateau(factor=0.5, patience=0, threshold=0.01, threshold_mode="abs", cooldown=1, min_lr=0.02)),
    ("plateau_max_rel", "plateau(mode=max, patience=1, threshold=0.05, cooldown=3, factor=0.3)", 0.1, M_ACCURACY,
     plateau(mode="max", patience=1, threshold=0.05, cooldown=3, factor=0.3)),
    ("plateau_max_abs", "plateau(mode=max, factor=0.5, patience=1, threshold=0.02, threshold_mode=abs, cooldown=2)",
     0.05, M_ACCURACY, plateau(mode="max", factor=0.5, patience=1, threshold=0.02, threshold_mode="abs", cooldown=2)),
    ("plateau_eps_rule", "plateau(patience=0)", 1e-6, M_INCREASING, plateau(patience=0)),
    ("plateau_eps_zero", "plateau(patience=0, factor=0.5, eps=0)", 1e-6, M_INCREASING, plateau(patience=0, factor=0.5, eps=0.0)),
    ("plateau_first_inf", "plateau(patience=1, factor=0.5)", 0.1, M_WITH_INF, plateau(patience=1, factor=0.5)),
    # ---- ChainedScheduler of multiplicative schedulers
    ("chained_constant_exponential", "chained(constant(factor=0.5, total_iters=3), exponential(gamma=0.9))", 0.1, 15,
     lambda o: S.ChainedScheduler([S.ConstantLR(o, factor=0.5, total_iters=3), S.ExponentialLR(o, gamma=0.9)], o)),
    ("chained_linear_step_multistep",
     "chained(linear(start_factor=0.2, total_iters=4), step(step_size=3, gamma=0.5), multistep(milestones=[5,8], gamma=0.8))",
     0.05, 14,
     lambda o: S.ChainedScheduler([S.LinearLR(o, start_factor=0.2, total_iters=4), S.StepLR(o, step_size=3, gamma=0.5),
                                   S.MultiStepLR(o, milestones=[5, 8], gamma=0.8)], o)),
    ("chained_polynomial_cosine", "chained(polynomial(total_iters=10, power=2), cosine(t_max=10))", 0.1, 11,
     lambda o: S.ChainedScheduler([S.PolynomialLR(o, total_iters=10, power=2.0), S.CosineAnnealingLR(o, T_max=10)], o)),
    # ---- SequentialLR
    ("sequential_linear_cosine", "sequential(linear(start_factor=0.1, total_iters=5), cosine(t_max=15), milestones=[5])",
     0.1, 40,
     lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=5), S.CosineAnnealingLR(o, T_max=15)],
                              milestones=[5])),
    ("sequential_three",
     "sequential(constant(factor=0.1, total_iters=10), exponential(gamma=0.9), step(step_size=2), milestones=[3, 8])",
     0.05, 16,
     lambda o: S.SequentialLR(o, [S.ConstantLR(o, factor=0.1, total_iters=10), S.ExponentialLR(o, gamma=0.9),
                                  S.StepLR(o, step_size=2)], milestones=[3, 8])),
    ("sequential_exp_restarts", "sequential(exponential(gamma=0.8), cosine_restarts(t_0=4, t_mult=2), milestones=[4])",
     0.1, 30,
     lambda o: S.SequentialLR(o, [S.ExponentialLR(o, gamma=0.8), S.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=2)],
                              milestones=[4])),
    ("sequential_milestone_zero", "sequential(constant(factor=0.5, total_iters=2), linear(start_factor=0.5, total_iters=3), milestones=[0])",
     0.1, 6,
     lambda o: S.SequentialLR(o, [S.ConstantLR(o, factor=0.5, total_iters=2), S.LinearLR(o, start_factor=0.5, total_iters=3)],
                              milestones=[0])),
]


def run(case):
    cid, text, base, steps, build = case
    metrics = steps if isinstance(steps, list) else None
    n = len(metrics) if metrics is not None else steps
    opt = make_opt(base)
    sched = build(opt)
    values = []
    for t in range(n):
        values.append(float(opt.param_groups[0]["lr"]))
        opt.step()
        if metrics is not None:
            sched.step(metrics[t])
        else:
            sched.step()
    if metrics is not None:
        # JSON has no infinities: non-finite metrics are written as the strings "inf", "-inf", "nan".
        metrics = [m if math.isfinite(m) else repr(m) for m in metrics]
    return {"id": cid, "schedule": text, "base": base, "metrics": metrics, "values": values}


def main():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    out = {
        "generator": "tools/torch_golden/gen_schedules.py",
        "torch_version": torch.__version__,
        "cases": [run(c) for c in CASES],
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1, allow_nan=False)
        f.write("\n")
    print(f"wrote {len(out['cases'])} cases to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
