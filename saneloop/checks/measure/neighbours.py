"""Close pairs without comparing all pairs: exact duplicates by sorting rows, near-duplicates by
locality-sensitive hashing (E2LSH, Datar et al. 2004), in O(n log n).

Rows are float features, or integer token ids compared as one-hot vectors (distance sqrt(2 x the
number of positions that differ)). A pair closer than `radius` lands in the same bucket of one
table with probability p^K (p >= 0.80 per hash, buckets 4 x radius wide); with K = 6 hashes per
table and L = 24 tables a pair closer than `radius` is missed with probability below 1e-3, and
every candidate is measured exactly, so nothing farther than `radius` is ever reported.
"""

from __future__ import annotations

import torch

HASHES, TABLES, WIDTH = 6, 24, 4.0  # K, L, bucket width in radii
_MAX_OFFSET = 64  # members of one bucket compared with each other (a denser bucket is cut there)
_PRIME = 1_000_003
# Candidate pairs are measured in parts of at most this many gathered values per side (2 x 512 KB): dense buckets
# (text padded to one length) give hundreds of thousands of candidates a table. Parts of 8 MB left the process
# ~400 MB larger after a few tables (freed blocks of that size are kept by the allocator, not returned).
_GATHERED = 1 << 16


def distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise distance between rows a[k] and b[k]: Euclidean, or one-hot for token ids."""
    if a.is_floating_point():
        return (a - b).norm(dim=1)
    return (2.0 * (a != b).sum(1).double()).sqrt()


def nearest(queries: torch.Tensor, rows: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """Distance from each query to its nearest row that is not identical to it (brute force, O(q n))."""
    best = torch.full((len(queries),), float("inf"), dtype=torch.double)
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        if rows.is_floating_point():
            d = torch.cdist(queries.double(), part.double(), compute_mode="donot_use_mm_for_euclid_dist")  # exact 0
        else:  # position by position: a [q, chunk] comparison each, never [q, chunk, T]
            same = torch.zeros(len(queries), len(part), dtype=torch.int32)
            for t in range(rows.shape[1]):
                same += queries[:, t, None] == part[None, :, t]
            d = (2.0 * (rows.shape[1] - same).double()).sqrt()
        best = torch.minimum(best, d.masked_fill(d == 0, float("inf")).min(1).values)
    return best


def exact_groups(rows: torch.Tensor) -> torch.Tensor:
    """An id per row, equal for identical rows (a lexicographic sort of the rows)."""
    return torch.unique(rows, dim=0, return_inverse=True)[1]


def close_pairs(rows: torch.Tensor, radius: float, seed: int = 0) -> torch.Tensor:
    """Pairs (i, j), i < j, of rows closer than `radius` (and not identical), as a [P, 2] tensor.

    Each table's candidates are measured before the next table is hashed, and only the close pairs are kept
    (as one int64 code each): memory is one table's candidates, not all tables' (text padded to one length
    fills buckets densely: 24 tables held ~30 M candidate pairs, 3.5-5.7 GB, at a 20,000-line sample)."""
    if radius <= 0 or len(rows) < 2:
        return torch.zeros(0, 2, dtype=torch.long)
    gen, n = torch.Generator().manual_seed(seed), len(rows)
    found = torch.zeros(0, dtype=torch.long)  # codes i * n + j of the close pairs found so far, sorted
    for _ in range(TABLES):
        codes = _codes(_bucket_pairs(_keys(rows, radius, gen)), n)
        codes = codes[~torch.isin(codes, found)]
        close = [part[_within(rows, _pairs(part, n), radius)] for part in codes.split(_part_size(rows))]
        found = torch.cat([found, *close]).sort().values if close else found
    return _pairs(found, n)


def _part_size(rows: torch.Tensor) -> int:
    """Candidate pairs measured at once: at most `_GATHERED` values gathered per side."""
    return max(1, _GATHERED // max(1, rows[0].numel()))


def _codes(pairs: torch.Tensor, n: int) -> torch.Tensor:
    return torch.unique(pairs[:, 0] * n + pairs[:, 1])


def _pairs(codes: torch.Tensor, n: int) -> torch.Tensor:
    return torch.stack([codes // n, codes % n], 1)


def _within(rows: torch.Tensor, pairs: torch.Tensor, radius: float) -> torch.Tensor:
    d = distances(rows[pairs[:, 0]], rows[pairs[:, 1]])
    return (d < radius) & (d > 0)


def _keys(rows: torch.Tensor, radius: float, gen: torch.Generator) -> torch.Tensor:
    """One table: K quantised random projections per row, combined into one int64 bucket key."""
    width = WIDTH * radius
    if rows.is_floating_point():
        directions = torch.randn(rows.shape[1], HASHES, generator=gen, dtype=torch.double)
        projected = rows.double() @ directions
    else:  # a Gaussian projection of the one-hot vector: one weight per (position, token)
        vocab = int(rows.max()) + 1 if rows.numel() else 1
        weights = torch.randn(rows.shape[1], vocab, HASHES, generator=gen, dtype=torch.double)
        projected = torch.zeros(len(rows), HASHES, dtype=torch.double)  # std = distance
        for t in range(rows.shape[1]):  # position by position: [n, K] at a time, never [n, T, K]
            projected += weights[t, rows[:, t]]
    shift = torch.rand(HASHES, generator=gen, dtype=torch.double) * width
    cells = torch.floor((projected + shift) / width).long()
    key = torch.zeros(len(rows), dtype=torch.long)
    for k in range(HASHES):
        key = key * _PRIME + cells[:, k]  # wraps on overflow: still a hash
    return key


def _bucket_pairs(key: torch.Tensor) -> torch.Tensor:
    """Pairs of rows that share a key: members of a bucket are neighbours in sorted order."""
    order = key.argsort()
    ordered = key[order]
    pairs = []
    for offset in range(1, min(_MAX_OFFSET, len(key) - 1) + 1):
        same = (ordered[offset:] == ordered[:-offset]).nonzero().flatten()
        if not len(same):
            break
        i, j = order[same], order[same + offset]
        pairs.append(torch.stack([torch.minimum(i, j), torch.maximum(i, j)], 1))
    return torch.cat(pairs) if pairs else torch.zeros(0, 2, dtype=torch.long)
