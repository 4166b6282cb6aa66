"""Thrift's compact protocol, enough to read a Parquet footer and write it back byte for byte.

A struct decodes to a list of (field id, type, value); lists to (element type, items); integers
to ints, binaries to bytes, doubles to their 8 raw bytes. `write_struct(read_struct(b))` is `b`.
"""

from __future__ import annotations

_MASK = 0xFFFFFFFFFFFFFFFF


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    out = shift = 0
    while True:
        b = buf[i]
        i += 1
        out |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return out, i


def _unzigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def _put_varint(out: bytearray, n: int) -> None:
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def read_struct(buf: bytes, i: int = 0) -> tuple[list, int]:
    """(fields, index after the struct's stop byte)."""
    fields, last = [], 0
    while True:
        b = buf[i]
        i += 1
        if b == 0:
            return fields, i
        kind, delta = b & 0x0F, b >> 4
        if delta:
            fid = last + delta
        else:
            z, i = _varint(buf, i)
            fid = _unzigzag(z)
        value, i = _read(buf, i, kind)
        fields.append((fid, kind, value))
        last = fid


def _read(buf: bytes, i: int, kind: int):
    if kind in (1, 2):  # a bool field lives in its header's type
        return kind == 1, i
    if kind == 3:
        return buf[i], i + 1
    if kind in (4, 5, 6):
        z, i = _varint(buf, i)
        return _unzigzag(z), i
    if kind == 7:
        return bytes(buf[i:i + 8]), i + 8
    if kind == 8:
        n, i = _varint(buf, i)
        return bytes(buf[i:i + n]), i + n
    if kind in (9, 10):
        head = buf[i]
        i += 1
        elem, n = head & 0x0F, head >> 4
        if n == 15:
            n, i = _varint(buf, i)
        items = []
        for _ in range(n):
            if elem in (1, 2):
                items.append(buf[i] == 1)
                i += 1
            else:
                v, i = _read(buf, i, elem)
                items.append(v)
        return (elem, items), i
    if kind == 12:
        return read_struct(buf, i)
    raise ValueError(f"thrift compact type {kind} is not used in Parquet footers")


def write_struct(out: bytearray, fields: list) -> None:
    last = 0
    for fid, kind, value in fields:
        wire = (1 if value else 2) if kind in (1, 2) else kind
        delta = fid - last
        if 0 < delta <= 15:
            out.append((delta << 4) | wire)
        else:
            out.append(wire)
            _put_varint(out, ((fid << 1) ^ (fid >> 63)) & _MASK)
        if kind not in (1, 2):
            _write(out, kind, value)
        last = fid
    out.append(0)


def _write(out: bytearray, kind: int, value) -> None:
    if kind == 3:
        out.append(value & 0xFF)
    elif kind in (4, 5, 6):
        _put_varint(out, ((value << 1) ^ (value >> 63)) & _MASK)
    elif kind == 7:
        out += value
    elif kind == 8:
        _put_varint(out, len(value))
        out += value
    elif kind in (9, 10):
        elem, items = value
        if len(items) < 15:
            out.append((len(items) << 4) | elem)
        else:
            out.append(0xF0 | elem)
            _put_varint(out, len(items))
        for x in items:
            if elem in (1, 2):
                out.append(1 if x else 2)
            else:
                _write(out, elem, x)
    elif kind == 12:
        write_struct(out, value)
