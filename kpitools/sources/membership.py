"""Membership tests that stay fast on pandas 3's Arrow-backed string columns.

``Series.isin`` on a ``str`` column turns every value of the set into a Python
object first (one ``pyarrow.scalar`` per value), which costs more than the test
itself once the set holds a hundred thousand user ids. :func:`isin` hands both
sides to ``pyarrow.compute.is_in`` instead (one hash table, no Python loop) and
falls back to ``Series.isin`` for other dtypes.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = ["isin", "positions", "occurring"]


def _arrow(values: object):
    """The values as pyarrow strings (an Array or a ChunkedArray, as they are held), or None
    when they are not strings."""
    import pyarrow as pa

    if isinstance(values, pa.Array | pa.ChunkedArray):
        array = values
    elif isinstance(values, pd.Series | pd.Index) and isinstance(values.dtype, pd.StringDtype):
        array = values.array.__arrow_array__()  # no copy for the pyarrow-backed str dtype
    else:
        return None
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return None
    return array.cast(pa.large_string())


def _value_set(values: object):
    """:func:`_arrow` as one Array, which pyarrow's membership kernels take as their set."""
    array = _arrow(values)
    return array.combine_chunks() if hasattr(array, "combine_chunks") else array


def isin(values: pd.Series | pd.Index, allowed: Iterable[object] | pd.Series | pd.Index) -> np.ndarray:
    """Boolean mask: which of ``values`` are in ``allowed`` (missing values never are).

    Parameters
    ----------
    values : Series or Index
        The values to test, e.g. ``events["user_id"]``.
    allowed : Series, Index or iterable
        The set to test against.

    Returns
    -------
    ndarray of bool
        Same length as ``values``; equal to ``values.isin(allowed) & values.notna()``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    left = _arrow(values)
    if left is not None:
        if not isinstance(allowed, pd.Series | pd.Index):
            allowed = pd.Index(list(allowed), dtype="str") if not isinstance(allowed, str) else pd.Index([allowed])
        right = _value_set(allowed) if isinstance(allowed.dtype, pd.StringDtype) else None
        if right is None and (allowed.dtype == object):
            strings = allowed[[isinstance(v, str) for v in allowed]] if len(allowed) else allowed
            right = pa.array(list(strings), type=pa.large_string())
        if right is not None:
            return pc.is_in(left, value_set=right, skip_nulls=True).fill_null(False).to_numpy(
                zero_copy_only=False)
    series = pd.Series(values) if isinstance(values, pd.Index) else values
    return (series.isin(allowed) & series.notna()).to_numpy(dtype=bool)


def positions(values: pd.Series | pd.Index, allowed: pd.Index) -> np.ndarray:
    """For each of ``values`` found in ``allowed``, its position there (values not found are
    left out): ``pyarrow.compute.index_in`` for strings, ``Index.get_indexer`` otherwise.
    ``values`` may also be a pyarrow array of strings, such as a column read from Parquet."""
    import pyarrow.compute as pc

    left, right = _arrow(values), _value_set(allowed)
    if left is not None and right is not None:
        found = pc.index_in(left, value_set=right).drop_null()
        return found.to_numpy(zero_copy_only=False).astype(np.int64)
    found = pd.Index(allowed).get_indexer(pd.Index(values))
    return found[found >= 0]


def occurring(candidates: pd.Index, values: object) -> pd.Index:
    """The ``candidates`` that occur among ``values`` (in the candidates' order): one hash
    lookup per value, e.g. which of a period's users have an earlier event."""
    seen = np.zeros(len(candidates), dtype=bool)
    seen[positions(values, candidates)] = True
    return candidates[seen]
