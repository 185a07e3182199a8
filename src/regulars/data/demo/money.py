"""Fast, exact conversions from numpy integers to Arrow values.

Money is simulated in integer cents and written as ``decimal128(18, 2)`` by laying the
cents out as the decimal's 128-bit unscaled integer (two's complement, little endian):
no float ever touches a stored amount. Fixed-width text (ids, timestamps) is built as a
byte matrix and handed to Arrow as a string array without per-value Python work.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from regulars.data.schema import MONEY


def money_array(cents: NDArray[np.int64]) -> pa.Array:
    """An Arrow ``decimal128(18, 2)`` array holding ``cents / 100`` exactly."""
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty(2 * len(cents), dtype=np.int64)
    words[0::2] = cents
    words[1::2] = cents >> 63  # sign extension into the high 64 bits
    return pa.Array.from_buffers(MONEY, len(cents), [None, pa.py_buffer(words)])


def money_text(cents: NDArray[np.int64]) -> pa.Array:
    """Amounts as text with a dot decimal and two decimals: ``-12.30``."""
    return money_array(cents).cast(pa.string())


def fixed_width_strings(chars: NDArray[np.uint8]) -> pa.Array:
    """Rows of an (n, w) byte matrix (ASCII) as an Arrow string array."""
    n, width = chars.shape
    offsets = np.arange(0, width * (n + 1), width, dtype=np.int32)
    data = np.ascontiguousarray(chars)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _digits(values: NDArray[np.integer[Any]], width: int) -> NDArray[np.uint8]:
    """(n, width) ASCII digits of non-negative integers, zero-padded on the left."""
    # One pass per digit on a column-major buffer: far faster than a broadcast divide.
    small = len(values) == 0 or int(values.max()) < 2**32
    rest: NDArray[np.unsignedinteger[Any]] = np.asarray(values).astype(
        np.uint32 if small else np.uint64
    )
    columns = np.empty((width, len(rest)), dtype=np.uint8)
    for position in range(width - 1, -1, -1):
        columns[position] = rest % 10
        rest //= 10
    return np.ascontiguousarray(columns.T) + np.uint8(ord("0"))


def padded_ids(prefix: str, numbers: NDArray[np.integer[Any]], width: int) -> pa.Array:
    """``prefix`` followed by ``numbers`` zero-padded to ``width`` digits: ``C000042``."""
    return prefixed_ids((prefix,), np.zeros(len(numbers), np.intp), numbers, width)


def prefixed_ids(
    prefixes: tuple[str, ...],
    which: NDArray[np.integer[Any]],
    numbers: NDArray[np.integer[Any]],
    width: int,
) -> pa.Array:
    """``prefixes[which]`` followed by ``numbers`` zero-padded to ``width`` digits.

    The prefixes are ASCII and all of the same length.
    """
    table = np.array([np.frombuffer(p.encode("ascii"), dtype=np.uint8) for p in prefixes])
    head = table[which]
    chars = np.empty((len(numbers), head.shape[1] + width), dtype=np.uint8)
    chars[:, : head.shape[1]] = head
    chars[:, head.shape[1] :] = _digits(numbers, width)
    return fixed_width_strings(chars)


def iso_local_timestamps(utc_s: NDArray[np.int64], offset_s: NDArray[np.int64]) -> pa.Array:
    """ISO 8601 local times with their UTC offset: ``2025-03-30T03:15:00+02:00``.

    Offsets are whole or half hours east of UTC (as in Europe).
    """
    local = pa.array(np.asarray(utc_s + offset_s, dtype=np.int64), pa.timestamp("s"))
    text = pc.cast(local, pa.string())  # "YYYY-MM-DD HH:MM:SS", 19 bytes each
    n = len(text)
    base = np.frombuffer(text.buffers()[2], dtype=np.uint8, count=19 * n).reshape(n, 19)
    chars = np.empty((n, 25), dtype=np.uint8)
    chars[:, :19] = base
    chars[:, 10] = ord("T")
    minutes = np.abs(offset_s) // 60
    chars[:, 19] = np.where(offset_s < 0, ord("-"), ord("+"))
    chars[:, 20:22] = _digits(minutes // 60, 2)
    chars[:, 22] = ord(":")
    chars[:, 23:25] = _digits(minutes % 60, 2)
    return fixed_width_strings(chars)
