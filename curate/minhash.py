"""Vectorised shingling, MinHash signatures and LSH banding (numpy; no per-record Python loop).

Why not `datasketch.MinHash` per record: ~0.5k records/s. Here a record's text becomes a run of
code points in one flat array; character n-grams are rolling hashes over that array, and each
permutation is one xor-multiply pass plus `np.minimum.reduceat` over a cache-sized block of
records. Blocks run on a thread pool (numpy releases the GIL), results are placed by block
index, so the output never depends on thread scheduling. The band/row split is datasketch's
own optimum (`MinHashLSH` picks the same), so the candidates are what `MinHashLSH` would give
for these signatures; every candidate pair is then checked with the exact Jaccard similarity.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Callable, Literal

import numpy as np
import polars as pl

Tokenizer = Literal["char", "jieba"]

PERM_SEED = 20240607  # fixed: dedup results must not change with the recipe's sampling seed
BLOCK = 4096  # records per block: a block's shingles stay in CPU cache across permutations
_P = np.uint64(0x100000001B3)  # rolling-hash multiplier (FNV prime)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
U64_MAX = np.iinfo(np.uint64).max


def match_key_expr(text: pl.Expr) -> pl.Expr:
    """Text as compared for duplicates: lower-case, no whitespace, no punctuation (ASCII or CJK)."""
    return text.str.to_lowercase().str.replace_all(r"[\s\p{P}]+", "")


def workers() -> int:
    return max(1, min(int(os.environ.get("ZHTUNE_THREADS", "0")) or (os.cpu_count() or 1), 8))


def on_threads(fn: Callable, starts) -> list:
    """`fn` of every block start, in order, on `workers()` threads when there is more than one block
    (numpy and polars release the GIL, so blocks share the cores)."""
    starts = list(starts)
    if workers() > 1 and len(starts) > 1:
        with ThreadPoolExecutor(workers()) as pool:
            return list(pool.map(fn, starts))
    return [fn(lo) for lo in starts]


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, in place: spreads every input bit over the 64 output bits."""
    h ^= h >> np.uint64(30)
    h *= _M1
    h ^= h >> np.uint64(27)
    h *= _M2
    h ^= h >> np.uint64(31)
    return h


def codepoints(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(code points of all texts back to back as uint64, length of each text)."""
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    flat = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    return flat, lengths


@lru_cache(maxsize=1 << 20)
def _token_hash(token: str) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")


def jieba_symbols(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(64-bit hash of every jieba word, back to back; word count of each text)."""
    import jieba

    jieba.setLogLevel(60)
    words = [[w for w in jieba.lcut(t) if w.strip()] for t in texts]
    lengths = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
    flat = np.fromiter((_token_hash(w) for ws in words for w in ws), dtype=np.uint64, count=int(lengths.sum()))
    return flat, lengths


def symbols(texts: list[str], tokenizer: Tokenizer = "char") -> tuple[np.ndarray, np.ndarray]:
    return jieba_symbols(texts) if tokenizer == "jieba" else codepoints(texts)


_PINV = np.uint64(pow(int(_P), -1, 1 << 64))  # P is odd, so it has an inverse modulo 2**64
_powers_cache: list[tuple[np.ndarray, np.ndarray]] = []


def _powers(m: int) -> tuple[np.ndarray, np.ndarray]:
    """(P**i, P**-i) mod 2**64 for i < m, cached and grown as needed."""
    if not _powers_cache or len(_powers_cache[-1][0]) < m:
        size = max(m, 1 << 16)
        ones = np.ones(1, np.uint64)
        pw = np.cumprod(np.concatenate([ones, np.full(size - 1, _P, np.uint64)]), dtype=np.uint64)
        ipw = np.cumprod(np.concatenate([ones, np.full(size - 1, _PINV, np.uint64)]), dtype=np.uint64)
        _powers_cache.append((pw, ipw))
    pw, ipw = _powers_cache[-1]
    return pw[:m], ipw[:m]


def ngram_hashes(flat: np.ndarray, lengths: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hash of every n-gram of every text; (hashes back to back, count per text).

    The n-gram at i is the polynomial sum(c[j] * P**(i+n-1-j)), taken from prefix sums of
    c[j] * P**-j (wrapping uint64 arithmetic is arithmetic modulo 2**64, where P is invertible):
    a few passes over the text whatever n is. A text shorter than n still gives one shingle
    (itself, tagged with its length), so distinct short texts never look alike; an empty text
    gives none.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    neff = np.minimum(lengths, n)
    counts = np.where(lengths > 0, lengths - neff + 1, 0)
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, np.uint64), counts
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.repeat(starts - first, counts) + np.arange(total, dtype=np.int64)
    pw, ipw = _powers(len(flat))
    prefix = np.zeros(len(flat) + 1, np.uint64)
    np.cumsum((flat + np.uint64(1)) * ipw, out=prefix[1:])
    short = bool((neff < n).any())
    ne = np.repeat(neff, counts) if short else None
    end = pos + (ne if short else n)
    h = (prefix[end] - prefix[pos]) * pw[end - 1]
    if short:
        h ^= np.where(ne < n, ne.astype(np.uint64) << np.uint64(56), np.uint64(0))
    return _mix(h), counts


def permutations(num_perm: int, seed: int = PERM_SEED) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xor = rng.integers(0, U64_MAX, size=num_perm, dtype=np.uint64, endpoint=True)
    mul = rng.integers(0, U64_MAX, size=num_perm, dtype=np.uint64, endpoint=True) | np.uint64(1)
    return xor, mul


def signatures(hashes: np.ndarray, counts: np.ndarray, num_perm: int, seed: int = PERM_SEED) -> np.ndarray:
    """MinHash signature matrix (num_perm x texts, uint64); texts without shingles get U64_MAX."""
    xor, mul = permutations(num_perm, seed)
    out = np.full((num_perm, len(counts)), U64_MAX, dtype=np.uint64)
    has = counts > 0
    if not has.any():
        return out
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[has]
    sub = out if has.all() else np.empty((num_perm, int(has.sum())), dtype=np.uint64)
    buf = np.empty_like(hashes)
    for j in range(num_perm):
        np.bitwise_xor(hashes, xor[j], out=buf)
        np.multiply(buf, mul[j], out=buf)
        np.minimum.reduceat(buf, starts, out=sub[j])
    if sub is not out:
        out[:, has] = sub
    return out


class HashSet:
    """Membership of 64-bit hashes in a fixed set, vectorised: a cache-sized table on the top
    bits (about 64 slots per member) rejects almost every non-member in one gather; the rest go
    to a binary search."""

    def __init__(self, values: np.ndarray):
        self.sorted = np.unique(np.asarray(values, dtype=np.uint64))
        bits = int(np.clip(np.ceil(np.log2(max(len(self.sorted), 1) * 64)), 16, 24))
        self.shift = np.uint64(64 - bits)
        self.bitmap = np.zeros(1 << bits, dtype=np.bool_)
        self.bitmap[self.sorted >> self.shift] = True

    def __len__(self) -> int:
        return len(self.sorted)

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        out = self.bitmap[hashes >> self.shift]
        maybe = np.flatnonzero(out)
        if len(maybe) and len(self.sorted):
            h = hashes[maybe]
            pos = np.minimum(np.searchsorted(self.sorted, h), len(self.sorted) - 1)
            out[maybe] = self.sorted[pos] == h
        return out


@lru_cache(maxsize=64)
def lsh_params(threshold: float, num_perm: int, weights: tuple[float, float] = (0.05, 0.95)) -> tuple[int, int]:
    """(bands, rows per band) minimising weighted false-positive + false-negative probability.

    The same search as datasketch's `MinHashLSH(threshold, num_perm, weights=...)`
    (`datasketch.lsh._optimal_param`), with the integrals on a fine grid instead of importing
    scipy.integrate (1.7 s). Misses weigh 0.95: a false candidate only costs one exact Jaccard
    check, a missed pair is a duplicate left in (threshold 0.8 -> 16 x 8: P(candidate) 0.95 at
    Jaccard 0.8, 0.99 at 0.85; equal weights would give 9 x 13: 0.40 and 0.69).
    """
    pairs = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    b = np.array([p[0] for p in pairs], dtype=np.float64)[:, None]
    r = np.array([p[1] for p in pairs], dtype=np.float64)[:, None]
    s_lo = np.linspace(0.0, threshold, 1025)[None, :]
    s_hi = np.linspace(threshold, 1.0, 1025)[None, :]
    fp = np.trapezoid(1 - (1 - s_lo ** r) ** b, s_lo, axis=1)
    fn = np.trapezoid((1 - s_hi ** r) ** b, s_hi, axis=1)
    return pairs[int(np.argmin(weights[0] * fp + weights[1] * fn))]


def band_hashes(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit key per band per text (bands x texts): texts sharing a key are candidates."""
    keys = np.empty((bands, sig.shape[1]), dtype=np.uint64)
    for b in range(bands):
        h = np.full(sig.shape[1], ((b + 1) * int(_M2)) & int(U64_MAX), dtype=np.uint64)
        for r in range(rows):
            h ^= sig[b * rows + r]
            h *= _P
            h = _mix(h)
        keys[b] = h
    return keys


def text_bands(texts_of: Callable[[int, int], list[str]], n_texts: int, *, ngram: int, num_perm: int,
               bands: int, rows: int, tokenizer: Tokenizer = "char",
               progress: Callable[[int], object] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Band keys (bands x n) and shingle counts (n) for texts fetched block by block.

    `texts_of(lo, hi)` returns texts lo..hi-1; blocks run on a thread pool, placed by index.
    """
    keys = np.empty((bands, n_texts), dtype=np.uint64)
    counts = np.empty(n_texts, dtype=np.int64)

    def one(lo: int) -> int:
        hi = min(lo + BLOCK, n_texts)
        flat, lengths = symbols(texts_of(lo, hi), tokenizer)
        hashes, cnt = ngram_hashes(flat, lengths, ngram)
        sig = signatures(hashes, cnt, bands * rows)
        keys[:, lo:hi] = band_hashes(sig, bands, rows)
        counts[lo:hi] = cnt
        if progress is not None:
            progress(hi - lo)
        return hi - lo

    on_threads(one, range(0, n_texts, BLOCK))
    return keys, counts


def candidate_pairs(keys: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Pairs (i < j) of texts sharing a band key, as an (m, 2) int64 array without repeats.

    Within a bucket each member is paired with the bucket's first member and with its
    predecessor: linear in bucket size, and enough for the clusters (connected components).
    """
    idx = np.flatnonzero(valid).astype(np.int64)
    width = np.int64(max(len(valid), 1))
    found = []
    for band in keys:
        k = band[idx]
        order = np.argsort(k, kind="stable")
        sk, so = k[order], idx[order]
        same = sk[1:] == sk[:-1]
        if not same.any():
            continue
        run_start = np.concatenate([[0], np.flatnonzero(~same) + 1])
        run_id = np.cumsum(np.concatenate([[True], ~same])) - 1
        first = so[run_start][run_id]
        tail = np.flatnonzero(same) + 1
        for a, b in ((first[tail], so[tail]), (so[tail - 1], so[tail])):
            lo, hi = np.minimum(a, b), np.maximum(a, b)
            found.append((lo * width + hi)[lo != hi])  # one int64 per pair: unique in 1-D is fast
    if not found:
        return np.empty((0, 2), dtype=np.int64)
    code = np.unique(np.concatenate(found))
    return np.stack([code // width, code % width], axis=1)


def shingle_sets(texts: list[str], ngram: int, tokenizer: Tokenizer = "char") -> list[frozenset]:
    flat, lengths = symbols(texts, tokenizer)
    hashes, counts = ngram_hashes(flat, lengths, ngram)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    return [frozenset(hashes[bounds[i]:bounds[i + 1]].tolist()) for i in range(len(texts))]


def jaccard(a: frozenset, b: frozenset) -> float:
    if not a and not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def verify_pairs(pairs: np.ndarray, texts_at: Callable[[np.ndarray], list[str]], ngram: int,
                 tokenizer: Tokenizer = "char") -> np.ndarray:
    """Exact Jaccard of each candidate pair's shingle sets (float64 array, one per pair)."""
    if len(pairs) == 0:
        return np.empty(0)
    rows = np.unique(pairs)
    sets = dict(zip(rows.tolist(), shingle_sets(texts_at(rows), ngram, tokenizer)))
    return np.fromiter((jaccard(sets[a], sets[b]) for a, b in pairs.tolist()), dtype=np.float64, count=len(pairs))


def components(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected-component label (smallest member index) of each of n nodes, given edges (m, 2)."""
    labels = np.arange(n)
    if len(pairs) == 0:
        return labels
    a, b = pairs[:, 0], pairs[:, 1]
    while True:
        la, lb = labels[a], labels[b]
        if (la == lb).all():
            return labels
        low = np.minimum(la, lb)
        np.minimum.at(labels, a, low)
        np.minimum.at(labels, b, low)
        while True:  # pointer jumping: every node points at its root
            up = labels[labels]
            if (up == labels).all():
                break
            labels = up
