"""Torch goldens for optlab-nn's weight averaging (crates/optlab-nn/tests/torch_swa.rs): the small
ResNet-18 of tools/golden/torch_train.py (stage widths 4-8-8-8, 3x8x8 synthetic images, the same
initial weights resnet_init.safetensors and the same 50 batches of 16 from torch_training.json)
trained with torch.optim.swa_utils in its documented usage, one averaging unit per step (c from 1):

    opt.step()
    if c - 1 >= swa_start:
        if (c - 1 - swa_start) % swa_freq == 0: avg.update_parameters(model)
        swalr.step()                      # SWALR (when swa_lr is given), created at the first such unit

then `update_bn` over the 64 images in order (a loader of batches of 16, no shuffling) on the
averaged model, and its evaluation-mode loss over the 64 images. Records the 50 training losses
(SWALR changes them), the averaged model's loss with the model's BatchNorm statistics (what
AveragedModel(use_buffers=False) holds before update_bn: the model's at its last update, so every
case updates at the last step), its BatchNorm statistics after update_bn and its loss then. Writes crates/optlab-nn/tests/golden/torch_swa.json.

Regenerate:  /work/venv/bin/python tools/golden/torch_swa.py      (torch, numpy, safetensors)
"""
import json
import os
import sys
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch.optim.swa_utils import SWALR, AveragedModel, get_ema_multi_avg_fn, update_bn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
GOLDEN = os.path.join(ROOT, "crates", "optlab-nn", "tests", "golden")
sys.path.insert(0, os.path.dirname(HERE))
from torch_nets import ResNet18  # noqa: E402  (tools/torch_nets.py)

torch.set_num_threads(1)
warnings.filterwarnings("ignore", message="Detected call of")
SIDE, WIDTHS = 8, (4, 8, 8, 8)


def synthetic_images(n, length):
    j = np.arange(length, dtype=np.float64)
    x = np.stack([np.sin(0.37 * (k + 1) * j + k) for k in range(n)]).astype(np.float32)
    return x, np.arange(n, dtype=np.int64) % 10


CASES = [
    {"name": "swa_sgd_swalr", "optimizer": "sgd", "set": {"lr": 5e-4, "momentum": 0.9},
     "average": {"method": "swa", "swa_start": 20, "swa_freq": 1, "swa_lr": 2.5e-4, "anneal_epochs": 10}},
    {"name": "ema_adam", "optimizer": "adam", "set": {"lr": 1e-4}, "average": {"method": "ema", "ema_decay": 0.9}},
]


def run(case, state, x, y, batches):
    model = ResNet18(10, WIDTHS, 3, SIDE)
    model.load_state_dict(state)
    model.train()
    s = case["set"]
    if case["optimizer"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=s["lr"], momentum=s["momentum"])
    else:
        opt = torch.optim.Adam(model.parameters(), lr=s["lr"])
    a = case["average"]
    if a["method"] == "swa":
        avg = AveragedModel(model)
    else:
        avg = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(a["ema_decay"]))
    start, freq = a.get("swa_start", 0), a.get("swa_freq", 1)
    swalr, losses = None, []
    for c, idx in enumerate(batches, start=1):
        xb, yb = torch.from_numpy(x[idx]), torch.from_numpy(y[idx])
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        losses.append(loss.item())
        loss.backward()
        opt.step()
        if c - 1 >= start:
            if (c - 1 - start) % freq == 0:
                avg.update_parameters(model)
            if "swa_lr" in a:
                if swalr is None:
                    swalr = SWALR(opt, swa_lr=a["swa_lr"], anneal_epochs=a.get("anneal_epochs", 10))
                swalr.step()
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    avg.eval()
    with torch.no_grad():
        before = F.cross_entropy(avg(xs), ys).item()
    loader = [xs[k : k + 16] for k in range(0, len(xs), 16)]
    update_bn(loader, avg)
    avg.eval()
    with torch.no_grad():
        after = F.cross_entropy(avg(xs), ys).item()
    stats = {k: v.tolist() for k, v in avg.module.state_dict().items() if k.endswith(("running_mean", "running_var"))}
    return dict(case, losses=losses, n_averaged=int(avg.n_averaged), loss_before_update_bn=before,
                loss_after_update_bn=after, bn_after_update_bn=stats)


def main():
    with open(os.path.join(GOLDEN, "torch_training.json")) as f:
        batches = json.load(f)["nets"]["resnet"]["batches"]
    state = load_file(os.path.join(GOLDEN, "resnet_init.safetensors"))
    x, y = synthetic_images(64, 3 * SIDE * SIDE)
    out = {"batches_from": "torch_training.json nets.resnet.batches", "cases": [run(c, state, x, y, batches) for c in CASES]}
    for c in out["cases"]:
        print(c["name"], c["n_averaged"], c["losses"][-1], c["loss_before_update_bn"], c["loss_after_update_bn"])
    with open(os.path.join(GOLDEN, "torch_swa.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
