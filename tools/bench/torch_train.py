"""torch's training throughput on the work `optlab bench train` measures, for the side-by-side ratio.

Called by `optlab bench train` (or by hand), one row per process so that the peak RSS is the row's:
    python3 tools/bench/torch_train.py --task mnist-cnn --batch 64 --steps 32 --warmup 2 --repeats 3 --threads 2 --root .
prints one JSON object: {"task", "batch", "threads", "torch", "seconds": [per run], "peak_rss_bytes"}.

    python3 tools/bench/torch_train.py --shipped mnist-cnn --epochs 1 --batch 64 --repeats 3 --threads 2 --root .
times torch's loop doing what `optlab train --task mnist-cnn --optimizer adam --set lr=0.001 --epochs 1`
does on the shipped subset (4,000 training and 1,000 validation digits, normalised, reshuffled each
epoch, validation loss and accuracy after every epoch) and prints {"shipped", "epochs", "batch",
"threads", "torch", "seconds": [per run]} (the loop only: no import or start-up).

The networks are optlab's (docs/networks.md): the MLP 784-256-128-10 with ReLU, the MNIST CNN of the
PyTorch examples (conv 1->32->64 3x3, max-pool 2, dropout 0.25, fc 9216->128, dropout 0.5,
fc 128->10) and optlab's small CIFAR-10 CNN (conv 3->32 3x3, pool, conv 32->64 3x3, pool,
dropout 0.25, fc 2304->128, dropout 0.5, fc 128->10); cross-entropy, Adam lr 1e-3 (torch's default
implementation for CPU tensors). Each timed step is what optlab's step is: a batch taken by index
from the normalised training tensor, forward in train mode, the loss read back as a Python float,
backward, step. The MNIST tasks use the shipped digits (the same 4,000-digit training split size);
cifar-cnn uses 2,048 random images of CIFAR-10's shape, as optlab does.
"""
import argparse
import gzip
import json
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from torch_nets import CifarCnn, Mlp, MnistCnn, ResNet18  # noqa: E402  (tools/torch_nets.py)


MODELS = {
    "mnist-mlp": lambda: Mlp((784, 256, 128, 10)),
    "mnist-cnn": MnistCnn,
    "cifar-cnn": CifarCnn,
    "cifar-resnet18": ResNet18,
}


def idx(path):
    b = gzip.open(path).read()
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i: 8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def mnist(root):
    d = os.path.join(root, "data", "mnist-5k")
    x = idx(os.path.join(d, "images-idx3-ubyte.gz")).astype(np.float32).reshape(-1, 784) / 255.0
    y = idx(os.path.join(d, "labels-idx1-ubyte.gz")).astype(np.int64)
    return x, y


def training_data(task, root):
    if task in ("cifar-cnn", "cifar-resnet18"):
        g = np.random.default_rng(0)
        return (torch.from_numpy(g.uniform(-1.7, 1.7, (2048, 3072)).astype(np.float32)),
                torch.from_numpy(g.integers(0, 10, 2048)))
    x, y = mnist(root)
    perm = np.random.default_rng(0).permutation(len(x))[:4000]
    x = x[perm]
    x = (x - x.mean()) / x.std()
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y[perm])


def time_rows(a):
    x, y = training_data(a.task, a.root)
    seconds = []
    for r in range(a.repeats):
        torch.manual_seed(r)
        m = MODELS[a.task]()
        m.train()
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(r)
        order, at = None, len(x)
        for k in range(a.warmup + a.steps):
            if k == a.warmup:
                t0 = time.perf_counter()
            if at + a.batch > len(x):
                order, at = torch.randperm(len(x), generator=g), 0
            b = order[at:at + a.batch]
            at += a.batch
            opt.zero_grad()
            loss = F.cross_entropy(m(x[b]), y[b])
            loss.item()
            loss.backward()
            opt.step()
        seconds.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"task": a.task, "batch": a.batch, "threads": a.threads, "torch": torch.__version__,
                      "seconds": seconds, "peak_rss_bytes": peak}))


def time_shipped(a):
    x, y = mnist(a.root)
    perm = np.random.default_rng(0).permutation(len(x))
    tr, va = perm[:4000], perm[4000:]
    mu, sd = x[tr].mean(), x[tr].std()
    xt, yt = torch.from_numpy((x - mu) / sd), torch.from_numpy(y)
    seconds = []
    for r in range(a.repeats):
        torch.manual_seed(r)
        m = MODELS[a.shipped]()
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(r)
        t0 = time.perf_counter()
        for _ in range(a.epochs):
            m.train()
            order = torch.from_numpy(tr)[torch.randperm(len(tr), generator=g)]
            for s in range(0, len(order), a.batch):
                b = order[s:s + a.batch]
                opt.zero_grad()
                loss = F.cross_entropy(m(xt[b]), yt[b])
                loss.item()
                loss.backward()
                opt.step()
            m.eval()
            with torch.no_grad():
                out = m(xt[va])
                F.cross_entropy(out, yt[va]).item()
                (out.argmax(1) == yt[va]).sum().item()
        seconds.append(time.perf_counter() - t0)
    print(json.dumps({"shipped": a.shipped, "epochs": a.epochs, "batch": a.batch, "threads": a.threads,
                      "torch": torch.__version__, "seconds": seconds}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--task", choices=sorted(MODELS))
    p.add_argument("--shipped", choices=["mnist-mlp", "mnist-cnn"])
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--steps", type=int, default=32)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--root", default=os.path.join(os.path.dirname(__file__), "..", ".."))
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.shipped:
        time_shipped(a)
    else:
        time_rows(a)


if __name__ == "__main__":
    main()
