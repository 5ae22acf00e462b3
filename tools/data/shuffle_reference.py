#!/usr/bin/env python3
"""Independent reference of optlab_data::shuffled(n, seed, epoch), written from the documented algorithm.

    python3 tools/data/shuffle_reference.py N SEED EPOCH

Generator: ChaCha with 8 rounds (rand_chacha's ChaCha8Rng layout: constants, 256-bit key, 64-bit block
counter from 0 in words 12-13, 64-bit stream in words 14-15; each u64 is two consecutive little-endian
output words, low word first). Key = four SplitMix64 outputs from the seed, little-endian; stream = epoch.
Shuffle: Fisher-Yates from the last position down, j uniform in 0..=i by Lemire's multiply-and-reject.
The Rust test `rng::tests::shuffle_matches_python_reference` pins this script's output.
Pure Python standard library.
"""

import struct
import sys

M32, M64 = (1 << 32) - 1, (1 << 64) - 1


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def rotl(v, c):
    return ((v << c) & M32) | (v >> (32 - c))


def quarter(x, a, b, c, d):
    x[a] = (x[a] + x[b]) & M32; x[d] = rotl(x[d] ^ x[a], 16)
    x[c] = (x[c] + x[d]) & M32; x[b] = rotl(x[b] ^ x[c], 12)
    x[a] = (x[a] + x[b]) & M32; x[d] = rotl(x[d] ^ x[a], 8)
    x[c] = (x[c] + x[d]) & M32; x[b] = rotl(x[b] ^ x[c], 7)


class ChaCha8:
    def __init__(self, key_bytes, stream):
        self.key = list(struct.unpack("<8I", key_bytes))
        self.stream = stream
        self.counter = 0
        self.words = []

    def block(self):
        s = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574] + self.key + [
            self.counter & M32, self.counter >> 32, self.stream & M32, self.stream >> 32]
        x = list(s)
        for _ in range(4):
            quarter(x, 0, 4, 8, 12); quarter(x, 1, 5, 9, 13); quarter(x, 2, 6, 10, 14); quarter(x, 3, 7, 11, 15)
            quarter(x, 0, 5, 10, 15); quarter(x, 1, 6, 11, 12); quarter(x, 2, 7, 8, 13); quarter(x, 3, 4, 9, 14)
        self.counter += 1
        return [(a + b) & M32 for a, b in zip(x, s)]

    def next_u64(self):
        if not self.words:
            self.words = self.block()
        lo, hi = self.words.pop(0), self.words.pop(0)
        return lo | (hi << 32)


def rng(seed, stream):
    state, key = seed, b""
    for _ in range(4):
        state, out = splitmix64(state)
        key += struct.pack("<Q", out)
    return ChaCha8(key, stream)


def below(r, bound):
    m = r.next_u64() * bound
    if (m & M64) < bound:
        threshold = (-bound % (1 << 64)) % bound
        while (m & M64) < threshold:
            m = r.next_u64() * bound
    return m >> 64


def shuffled(n, seed, epoch):
    r, perm = rng(seed, epoch), list(range(n))
    for i in range(n - 1, 0, -1):
        j = below(r, i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    return perm


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    print(shuffled(*(int(a) for a in sys.argv[1:])))
