"""CNN training throughput in torch, the same work as optlab's `nn_bench -- N cnn`:
MNIST CNN (pytorch/examples) at batch 64 (40 timed steps) and 512 (8 timed steps), CIFAR CNN at
batch 128 (10 timed steps), Adam lr 1e-3, one warm-up step first; random inputs.
Run: python cnn_torch.py THREADS [REPS=3]  -> samples/s median and runs."""
import os, statistics, sys, time
import torch, torch.nn.functional as F

THREADS = int(sys.argv[1]); REPS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
torch.set_num_threads(THREADS)

# The networks of `optlab bench train`'s torch side (one definition of each).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tools", "bench"))
from torch_train import CifarCnn as Cifar, MnistCnn as Mnist  # noqa: E402

def run(net, shape, bs, steps):
    g = torch.Generator().manual_seed(0)
    X = torch.rand((bs * (steps + 1),) + shape, generator=g)
    Y = torch.randint(0, 10, (bs * (steps + 1),), generator=g)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    t0 = None
    for i in range(steps + 1):
        if i == 1:
            t0 = time.perf_counter()
        xb, yb = X[i * bs:(i + 1) * bs], Y[i * bs:(i + 1) * bs]
        opt.zero_grad()
        loss = F.cross_entropy(net(xb), yb)
        loss.backward()
        opt.step()
        loss.item()
    return bs * steps / (time.perf_counter() - t0)

for name, mk, shape, bs, steps in [("mnist cnn bs64 ", Mnist, (1, 28, 28), 64, 40),
                                   ("mnist cnn bs512", Mnist, (1, 28, 28), 512, 8),
                                   ("cifar cnn bs128", Cifar, (3, 32, 32), 128, 10)]:
    runs = []
    for r in range(REPS):
        torch.manual_seed(r)
        runs.append(run(mk(), shape, bs, steps))
    print(f"torch {torch.__version__} threads {THREADS} {name} {statistics.median(runs):.0f} samples/s (runs {[round(v) for v in runs]})", flush=True)
