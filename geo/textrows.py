"""Columns of text joined into lines (a CSV's rows) by a compiled loop, without a Python object per row.

Each column is Arrow string data: one value per row, or a small dictionary of values and a code per row (an
area's name is turned into text once, not once per row). Arrow's element-wise join took ~40 ns a value for the
sixteen columns of a located site; this loop copies the bytes end to end at a few ns a value, without the GIL.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import pyarrow as pa


@dataclass(frozen=True, eq=False)
class TextColumn:
    values: pa.Array  # strings, no nulls
    codes: np.ndarray | None = None  # per row, the index of its value; None: values[i] is row i's


def thousandths_text(millis: np.ndarray) -> pa.Array:
    """Each whole number of thousandths m as repr(m / 1000) writes it: "12.345", "0.5", "-3.0" (for |m| < 10^15,
    where that is the decimal itself, trailing zeros dropped)."""
    offsets = np.empty(len(millis) + 1, dtype=np.int32)
    data = _thousandths(np.ascontiguousarray(millis, dtype=np.int64), offsets)
    return pa.Array.from_buffers(pa.string(), len(millis), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


@numba.njit(nogil=True, cache=True)
def _thousandths(millis: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    out = np.empty(len(millis) * 22, dtype=np.uint8)  # sign, 15 digits, point, and room to spare
    digits = np.empty(20, dtype=np.uint8)
    at = 0
    offsets[0] = 0
    for i in range(len(millis)):
        m = millis[i]
        if m < 0:
            out[at] = ord("-")
            at += 1
            m = -m
        whole, fraction = m // 1000, m % 1000
        n = 0
        while True:  # the whole part's digits, last first
            digits[n] = ord("0") + whole % 10
            n += 1
            whole //= 10
            if whole == 0:
                break
        for k in range(n - 1, -1, -1):
            out[at] = digits[k]
            at += 1
        out[at] = ord(".")
        at += 1
        out[at] = ord("0") + fraction // 100
        at += 1
        if fraction % 100:
            out[at] = ord("0") + fraction // 10 % 10
            at += 1
            if fraction % 10:
                out[at] = ord("0") + fraction % 10
                at += 1
        offsets[i + 1] = at
    return out[:at]


def join_lines(columns: list[TextColumn], rows: int, sep: bytes = b",", end: bytes = b"\n") -> bytes:
    """Row by row, the columns' texts with `sep` between them and `end` after each row."""
    if rows == 0 or not columns:
        return b""
    data: list[np.ndarray] = []
    offsets: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    firsts: list[int] = []
    slots: list[int] = []
    data_at = offsets_at = 0
    for column in columns:
        values = column.values
        if pa.types.is_large_string(values.type):
            values = values.cast(pa.string())
        buffers = values.buffers()
        bounds = np.frombuffer(buffers[1], dtype=np.int32)[values.offset:values.offset + len(values) + 1]
        text = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.empty(0, np.uint8)
        data.append(text[bounds[0]:bounds[-1]])
        offsets.append(bounds.astype(np.int64) - bounds[0] + data_at)
        data_at += int(bounds[-1] - bounds[0])
        firsts.append(offsets_at)
        offsets_at += len(bounds)
        if column.codes is None:
            slots.append(-1)
        else:
            slots.append(len(codes))
            codes.append(np.asarray(column.codes, dtype=np.int32))
    code_rows = np.stack(codes) if codes else np.empty((0, rows), dtype=np.int32)
    out = _join(np.concatenate(data), np.concatenate(offsets), np.array(firsts, dtype=np.int64),
                np.array(slots, dtype=np.int64), code_rows, rows, sep[0], end[0])
    return out.tobytes()


@numba.njit(nogil=True, cache=True)
def _join(data: np.ndarray, offsets: np.ndarray, firsts: np.ndarray, slots: np.ndarray, codes: np.ndarray,
          rows: int, sep: int, end: int) -> np.ndarray:
    columns = len(firsts)
    total = rows * columns  # the separators and line ends
    for c in range(columns):
        first = firsts[c]
        if slots[c] < 0:
            total += offsets[first + rows] - offsets[first]
        else:
            for r in range(rows):
                value = first + codes[slots[c], r]
                total += offsets[value + 1] - offsets[value]
    out = np.empty(total, dtype=np.uint8)
    at = 0
    for r in range(rows):
        for c in range(columns):
            value = firsts[c] + (r if slots[c] < 0 else codes[slots[c], r])
            for k in range(offsets[value], offsets[value + 1]):  # a few bytes: a loop beats a slice copy
                out[at] = data[k]
                at += 1
            out[at] = sep if c < columns - 1 else end
            at += 1
    return out
