"""Step time of torch.optim.Muon on float32 matrices, for `optlab bench muon`.

Usage: torch_muon.py --shapes 512x512,1024x1024 --threads 2 --repeats 10
Prints one JSON object per shape: {"shape": "RxC", "median_ms": .., "min_ms": ..}. The gradient is
fixed (as optlab's side); 2 untimed steps come first. torch's Muon runs Newton-Schulz in bfloat16.
"""
import argparse
import json
import statistics
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--lr", type=float, default=0.02)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    for s in a.shapes.split(","):
        r, c = (int(x) for x in s.split("x"))
        n = r * c
        p = torch.nn.Parameter(((torch.arange(n) % 1000).float() - 500.0).mul(1e-3).reshape(r, c))
        g = (((torch.arange(n) * 7919) % 777).float() - 388.0).mul(1e-4).reshape(r, c)
        opt = torch.optim.Muon([p], lr=a.lr)
        times = []
        for k in range(a.repeats + 2):
            p.grad = g.clone()
            t0 = time.perf_counter()
            opt.step()
            dt = (time.perf_counter() - t0) * 1e3
            if k >= 2:
                times.append(dt)
        print(json.dumps({"shape": s, "median_ms": statistics.median(times), "min_ms": min(times)}))


if __name__ == "__main__":
    main()
