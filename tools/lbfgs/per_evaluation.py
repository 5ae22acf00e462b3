"""lbfgs against first-order optimizers per function evaluation on the test functions
(docs/lbfgs.md). Runs `optlab trace` (whose `evals` column counts every evaluation of f and its
gradient, lbfgs's line search included) from each function's default start and prints a
Markdown table: evaluations and steps until f <= f* + 1e-6 (f* = 0 for these functions), for
lbfgs (strong_wolfe and none, default settings otherwise) and for adam, sgd+momentum and rmsprop
at their best learning rate of a 13-point grid 1e-4..1 (the study's grid; best = fewest
evaluations).

    python3 tools/lbfgs/per_evaluation.py [path/to/optlab]
"""
import subprocess
import sys

OPTLAB = sys.argv[1] if len(sys.argv) > 1 else "target/release/optlab"
FUNCTIONS = ["rosenbrock", "beale", "booth", "matyas", "himmelblau", "three_hump_camel"]
TOL = 1e-6
STEPS = 2000
GRID = [10 ** (-4 + i / 3) for i in range(13)]


def first_hit(args):
    """(evals, steps) of the first row with loss <= TOL, or None."""
    out = subprocess.run([OPTLAB, "trace", *args], capture_output=True, text=True)
    if out.returncode != 0:
        return None
    for line in out.stdout.splitlines()[1:]:
        step, evals, loss = line.split(",")[:3]
        if float(loss) <= TOL:
            return int(evals), int(step)
    return None


def best(opt, fn, extra=()):
    hits = []
    for lr in GRID:
        h = first_hit(["--optimizer", opt, "--set", f"lr={lr:.6g}", *extra, "--function", fn, "--steps", str(STEPS)])
        if h:
            hits.append((h, lr))
    return min(hits) if hits else None


def cell(h):
    return "not reached" if h is None else f"{h[0]} ({h[1]} steps)"


def main():
    cols = ["lbfgs strong_wolfe", "lbfgs none (lr 1)", "adam", "sgd+momentum", "rmsprop"]
    print("| function | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for fn in FUNCTIONS:
        row = [
            cell(first_hit(["--optimizer", "lbfgs", "--set", "line_search_fn=strong_wolfe", "--function", fn,
                            "--steps", "200"])),
            cell(first_hit(["--optimizer", "lbfgs", "--function", fn, "--steps", "200"])),
        ]
        for opt, extra in (("adam", ()), ("sgd", ("--set", "momentum=0.9")), ("rmsprop", ())):
            b = best(opt, fn, extra)
            row.append("not reached" if b is None else f"{b[0][0]} ({b[0][1]} steps, lr {b[1]:.2g})")
        print(f"| {fn} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
