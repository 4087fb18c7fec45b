#!/usr/bin/env python3
"""A small reader for .shrk model files (docs/shrk-format.md) for the peer benchmarks: the
preprocessing and every dense param/buffer tensor by value name, as numpy arrays, so that
PyTorch can run exactly the weights shrink trained. CRCs are not checked here (shrink's own
reader does); files whose tensors sit in the SPARSE section are refused."""
import struct

import numpy as np

_DTYPES = {0: np.float32, 1: np.int32, 2: np.int16, 3: np.int8, 4: np.uint8}


def _string(b, at):
    n = struct.unpack_from("<I", b, at)[0]
    return b[at + 4:at + 4 + n].decode(), at + 4 + n


def load(path):
    b = open(path, "rb").read()
    if b[:8] != b"SHRK\0\r\n\x1a":
        raise ValueError(f"{path}: not a .shrk file")
    nsec = struct.unpack_from("<I", b, 16)[0]
    secs = {}
    for i in range(nsec):
        t, _, off, size = struct.unpack_from("<IIQQ", b, 24 + 32 * i)
        secs[t] = (off, size)
    if 5 in secs:
        raise ValueError(f"{path}: sparse tensors are not supported by this reader")
    # META: arch, lineage, preprocessing
    at = secs[1][0]
    meta = {}
    for key in ("arch", "lineage"):
        present, n = struct.unpack_from("<II", b, at)
        meta[key] = b[at + 8:at + 8 + n].decode() if present else None
        at += 8 + n
    scale, channels = struct.unpack_from("<fI", b, at)
    mean = struct.unpack_from("<4f", b, at + 8)[:channels]
    std = struct.unpack_from("<4f", b, at + 24)[:channels]
    meta["preproc"] = {"scale": scale, "mean": list(mean), "std": list(std)}
    # GRAPH: value names, dtypes and shapes
    at = secs[2][0]
    nv, _, _, _ = struct.unpack_from("<IIii", b, at)
    at += 16
    values = []
    for _ in range(nv):
        name, at = _string(b, at)
        kind, dtype, ndim = struct.unpack_from("<III", b, at)
        shape = struct.unpack_from(f"<{ndim}q", b, at + 12)
        at += 12 + 8 * ndim + 4
        values.append((name, kind, dtype, shape))
    # TENSORS
    base = secs[3][0]
    count = struct.unpack_from("<I", b, base)[0]
    tensors = {}
    for i in range(count):
        vi, dt, off, nbytes = struct.unpack_from("<IIQQ", b, base + 8 + 24 * i)
        name, _, _, shape = values[vi]
        if dt in _DTYPES:
            tensors[name] = np.frombuffer(b, dtype=_DTYPES[dt], count=int(np.prod(shape)) if shape else 1,
                                          offset=base + off).reshape(shape).copy()
    return meta, tensors
