"""The item and member similarities behind next-basket recommendation (model.py): the
members' recency-weighted item vectors, exact cosine neighbours in blocks, the item
neighbours (an items × items matrix kept to each item's ``ITEM_NEIGHBOURS`` best), the
rules' matrix, and each sparse row's best entries (``_row_top``). model.py's module doc
says how they are used.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.sparse import _sparsetools

if TYPE_CHECKING:
    from patron.analytics.recommend.model import Histories

IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]

ITEM_NEIGHBOURS = 10
_CHUNK = 2_000
# Members × members similarities held at a time (exact neighbours; float64).
_SIMILARITY_CELLS = 4_000_000
# Cells of one dense block when picking each row's best entries.
_TOP_CELLS = 4_000_000
# Rows wider than the top's k are padded to a multiple of this when picking their best.
_TOP_STEP = 16
# Blocks of members scored at once, each in a thread: the nightly run's two cores.
_THREADS = 2


def _repeat_vectors(h: Histories, decay: float) -> sparse.csr_matrix:
    """Members × items: Σ over the member's baskets holding the item of decay^(baskets after
    it), divided by the same sum over all their baskets."""
    basket_member = h.basket_members()
    position_from_end = (
        h.member_offsets[basket_member + 1] - 1 - np.arange(len(h.times), dtype=np.int64)
    )
    weight = decay**position_from_end
    total = np.bincount(basket_member, weights=weight, minlength=h.member_count)
    line_basket = h.line_baskets()
    values = weight[line_basket] / total[basket_member[line_basket]]
    matrix = sparse.csr_matrix(
        (values, (basket_member[line_basket], h.items)), shape=(h.member_count, h.item_count)
    )
    matrix.sum_duplicates()
    return matrix


def _normalised(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.csr_matrix(sparse.diags(1.0 / norms) @ matrix)


def _exact_similar(
    repeat: sparse.csr_matrix, k: int, weight: float
) -> Iterator[tuple[IntArray, sparse.csr_matrix]]:
    """(members, similar) a block of members at a time: ``similar`` has a row per member of
    the block, ``weight`` × the mean of their k most similar others' repeat vectors (cosine
    on those vectors, weights normalised to sum 1). Only one block's similarities (members ×
    members, bounded by ``_SIMILARITY_CELLS``) are in memory at once."""
    n = repeat.shape[0]
    unit = _normalised(repeat)
    unit_t = sparse.csr_matrix(unit.T)
    kk = min(k, n - 1)
    block_rows = max(1, min(_CHUNK, _SIMILARITY_CELLS // max(n, 1)))
    for start in range(0, n, block_rows):
        chunk = np.arange(start, min(start + block_rows, n))
        sims = (unit[chunk] @ unit_t).toarray()
        sims[np.arange(len(chunk)), chunk] = -1.0
        best = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
        weights = np.maximum(np.take_along_axis(sims, best, axis=1), 0.0)
        sums = weights.sum(axis=1, keepdims=True)
        weights = weights / np.where(sums > 0, sums, 1.0)
        matrix = sparse.csr_matrix(
            (weights.ravel(), (np.repeat(np.arange(len(chunk)), kk), best.ravel())),
            shape=(len(chunk), n),
        )
        similar = sparse.csr_matrix(matrix @ repeat)
        similar.data *= weight
        yield chunk, similar


def _item_similar(
    repeat: sparse.csr_matrix, weight: float, chunk: int
) -> Iterator[tuple[IntArray, sparse.csr_matrix]]:
    """The similar members' signal for many members (module doc), ``chunk`` members at a
    time: every other member weighted by cosine similarity, Σₙ cos(m, n) · repeatₙ /
    Σₙ cos(m, n), computed through the items as unitₘ · (unitᵀ · repeat) — the items ×
    items matrix in the brackets kept to each item's ``ITEM_NEIGHBOURS`` largest entries
    (itself left out: an item the member bought is scored by their own rate)."""
    n = repeat.shape[0]
    unit = _normalised(repeat).astype(np.float32)
    top = _item_neighbours(unit, repeat.astype(np.float32))
    top_lengths = np.diff(top.indptr).astype(np.int64)
    # Σ over the others of cos(m, n): unitₘ · Σₙ unitₙ, less the member's own 1.
    totals = np.asarray(unit.sum(axis=0)).ravel()
    norms = np.asarray(unit @ totals).ravel() - 1.0
    scale = np.where(norms > 1e-9, weight / np.maximum(norms, 1e-9), 0.0)
    for start in range(0, n, chunk):
        members = np.arange(start, min(start + chunk, n))
        block = unit[start : start + len(members)]
        # At most each bought item's neighbours: the product's size without scipy's
        # counting pass.
        similar = _product(block, top, int(top_lengths[block.indices].sum()))
        similar.data *= np.repeat(scale[members], np.diff(similar.indptr))
        yield members, similar


# Items up to which the items × items similarities are held dense (float32: 64 MB).
_DENSE_ITEMS = 4_000


def _item_neighbours(
    unit: sparse.csr_matrix, repeat: sparse.csr_matrix, dense_items: int = _DENSE_ITEMS
) -> sparse.csr_matrix:
    """Items × items: unitᵀ · repeat (float32, summed over members in their order) with each
    row kept to its ``ITEM_NEIGHBOURS`` largest positive entries off the diagonal, the lower
    item first on a tie; the kept entries of a row in that order."""
    n_items = unit.shape[1]
    if n_items > dense_items:
        gram = sparse.csr_matrix(unit.T @ repeat)
        gram.sum_duplicates()
        gram.setdiag(0)
        gram.eliminate_zeros()
        positions, values = _row_top(gram, ITEM_NEIGHBOURS)
        keep = values > 0
        rows = np.broadcast_to(np.arange(n_items)[:, None], positions.shape)[keep]
        return sparse.csr_matrix(
            (
                values[keep].astype(np.float32),
                gram.indices[positions[keep]],
                _row_pointers(rows, n_items),
            ),
            shape=(n_items, n_items),
        )
    # (repeatᵀ · unit)[k, i] = Σₘ repeat[m, k] · unit[m, i], the members in order: the
    # same sums as scipy's unitᵀ @ repeat, but into a dense array, with neither its
    # counting pass nor the sorting of a dense result's indices.
    by_item = repeat.T.tocsr()
    dense = np.zeros((n_items, n_items), dtype=np.float32)
    # Rows of the product are independent: a share of them per thread.
    bounds = np.linspace(0, n_items, max(_THREADS, 1) + 1).astype(np.int64)

    def fill(start: int, end: int) -> None:
        part = _product(by_item[start:end], unit, (end - start) * n_items)
        dense[start + _rows_of(part), part.indices] = part.data

    with ThreadPoolExecutor(max_workers=max(_THREADS, 1)) as pool:
        list(pool.map(fill, bounds[:-1].tolist(), bounds[1:].tolist()))
    gram = dense.T
    gram[np.arange(n_items), np.arange(n_items)] = 0.0
    kk = min(ITEM_NEIGHBOURS, n_items)
    # A stable sort of each row (descending): the lower item first on a tie.
    best = np.argsort(-gram, axis=1, kind="stable")[:, :kk]
    values = np.take_along_axis(gram, best, axis=1)
    keep = values > 0
    rows = np.broadcast_to(np.arange(n_items)[:, None], best.shape)[keep]
    return sparse.csr_matrix(
        (values[keep], best[keep].astype(np.int32), _row_pointers(rows, n_items)),
        shape=(n_items, n_items),
    )


def _row_pointers(rows: IntArray, n_rows: int) -> IntArray:
    """CSR row pointers of entries ordered by row."""
    pointers = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=pointers[1:])
    return pointers


def _product(a: sparse.csr_matrix, b: sparse.csr_matrix, bound: int) -> sparse.csr_matrix:
    """a @ b by scipy's own kernel (the same sums in the same order), given an upper bound
    on the result's entries: scipy's operator first walks both matrices once only to count
    them. The result's indices are left in the kernel's order (not sorted)."""
    m, n = a.shape[0], b.shape[1]
    bound = max(bound, 1)
    index = np.int32 if max(bound, m, n, a.nnz, b.nnz) < 2**31 - 1 else np.int64
    indptr = np.empty(m + 1, dtype=index)
    indices = np.empty(bound, dtype=index)
    data = np.empty(bound, dtype=np.result_type(a.dtype, b.dtype))
    _sparsetools.csr_matmat(
        m,
        n,
        a.indptr.astype(index, copy=False),
        a.indices.astype(index, copy=False),
        a.data,
        b.indptr.astype(index, copy=False),
        b.indices.astype(index, copy=False),
        b.data,
        indptr,
        indices,
        data,
    )
    used = int(indptr[-1])
    return sparse.csr_matrix((data[:used], indices[:used], indptr), shape=(m, n))


def _row_top(matrix: sparse.csr_matrix, k: int) -> tuple[IntArray, FloatArray]:
    """Each row's ``k`` largest entries, best first, the earlier stored first on a tie:
    (positions in ``matrix.data``, values), a row per row of ``matrix`` and ``k`` columns,
    padded with -1 and -inf where a row has fewer. Rows are laid out in dense blocks of
    their own width (rounded up to ``_TOP_STEP``), so no block is wider than its longest row
    and none is members × items."""
    n = matrix.shape[0]
    indptr = matrix.indptr.astype(np.int64, copy=False)
    lengths = np.diff(indptr)
    cols = np.full((n, k), -1, dtype=np.int64)
    vals = np.full((n, k), -np.inf)
    if n == 0 or k == 0 or matrix.nnz == 0:
        return cols, vals
    width = np.where(lengths <= k, k, -(-lengths // _TOP_STEP) * _TOP_STEP)
    width[lengths == 0] = 0
    for w in np.unique(width[width > 0]):
        rows = np.flatnonzero(width == w)
        for part in np.array_split(rows, max(1, len(rows) * int(w) // _TOP_CELLS + 1)):
            if not len(part):
                continue
            lens = lengths[part]
            local = np.repeat(np.arange(len(part)), lens)
            offset = np.arange(len(local)) - np.repeat(np.cumsum(lens) - lens, lens)
            source = np.repeat(indptr[part], lens) + offset
            # Negated, so the best come first in ascending order; padding last. A cell's
            # position in ``matrix.data`` is its row's start plus its column in the block.
            block = np.full((len(part), int(w)), np.inf)
            block[local, offset] = -matrix.data[source]
            if w > k:
                best = np.argpartition(block, k - 1, axis=1)[:, :k]
                best.sort(axis=1)
                chosen = np.take_along_axis(block, best, axis=1)
                # Where the k-th value has ties left out, the partition chose among them
                # at will: those rows are sorted whole (stable: the earlier first).
                kth = chosen.max(axis=1, keepdims=True)
                tied = (block == kth).sum(axis=1) > (chosen == kth).sum(axis=1)
                if tied.any():
                    best[tied] = np.argsort(block[tied], axis=1, kind="stable")[:, :k]
                    best[tied] = np.sort(best[tied], axis=1)
                    chosen[tied] = np.take_along_axis(block[tied], best[tied], axis=1)
                block = chosen
            else:
                best = np.broadcast_to(np.arange(int(w), dtype=np.int64), block.shape)
            # Stable on positions in ascending order: the earlier first on a tie.
            order = np.argsort(block, axis=1, kind="stable")
            vals[part] = -np.take_along_axis(block, order, axis=1)
            at = np.take_along_axis(best, order, axis=1)
            cols[part] = np.where(at < lens[:, None], indptr[part][:, None] + at, -1)
    return cols, vals


def _rows_of(matrix: sparse.csr_matrix) -> IntArray:
    return np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))


def _rule_matrix(h: Histories, min_count: int) -> sparse.csr_matrix:
    """Items × items: the confidence of {i} ⇒ {j} over all baskets, pairs in at least
    ``min_count`` baskets (basket/mining.py's pair rules, counted as a sparse product)."""
    line_basket = h.line_baskets()
    incidence = sparse.csr_matrix(
        (np.ones(len(h.items), dtype=np.float32), (line_basket, h.items)),
        shape=(len(h.times), h.item_count),
    )
    item_counts = np.asarray(incidence.sum(axis=0)).ravel()
    frequent = np.flatnonzero(item_counts >= min_count)
    sub = incidence[:, frequent]
    pairs = sparse.csr_matrix(sub.T @ sub)
    pairs.setdiag(0)
    pairs.data[pairs.data < min_count] = 0
    pairs.eliminate_zeros()
    conf = sparse.diags(1.0 / np.maximum(item_counts[frequent], 1)) @ pairs
    coo = sparse.coo_matrix(conf)
    return sparse.csr_matrix(
        (coo.data, (frequent[coo.row], frequent[coo.col])), shape=(h.item_count, h.item_count)
    )
