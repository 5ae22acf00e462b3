"""CNN training throughput in torch, the same work as optlab's `nn_bench -- N cnn`:
MNIST CNN (pytorch/examples) at batch 64 (40 timed steps) and 512 (8 timed steps), CIFAR CNN at
batch 128 (10 timed steps), Adam lr 1e-3, one warm-up step first; random inputs.
Run: python cnn_torch.py THREADS [REPS=3]  -> samples/s median and runs."""
import statistics, sys, time
import torch, torch.nn as nn, torch.nn.functional as F

THREADS = int(sys.argv[1]); REPS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
torch.set_num_threads(THREADS)

class Mnist(nn.Module):
    def __init__(s):
        super().__init__()
        s.conv1 = nn.Conv2d(1, 32, 3, 1); s.conv2 = nn.Conv2d(32, 64, 3, 1)
        s.d1 = nn.Dropout(0.25); s.d2 = nn.Dropout(0.5)
        s.fc1 = nn.Linear(9216, 128); s.fc2 = nn.Linear(128, 10)
    def forward(s, x):
        x = F.max_pool2d(F.relu(s.conv2(F.relu(s.conv1(x)))), 2)
        x = s.d1(x).flatten(1)
        return s.fc2(s.d2(F.relu(s.fc1(x))))

class Cifar(nn.Module):
    def __init__(s):
        super().__init__()
        s.conv1 = nn.Conv2d(3, 32, 3, 1); s.conv2 = nn.Conv2d(32, 64, 3, 1)
        s.d1 = nn.Dropout(0.25); s.d2 = nn.Dropout(0.5)
        s.fc1 = nn.Linear(2304, 128); s.fc2 = nn.Linear(128, 10)
    def forward(s, x):
        x = F.max_pool2d(F.relu(s.conv1(x)), 2)
        x = F.max_pool2d(F.relu(s.conv2(x)), 2)
        x = s.d1(x).flatten(1)
        return s.fc2(s.d2(F.relu(s.fc1(x))))

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
