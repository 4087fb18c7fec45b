#!/usr/bin/env python3
"""Prints facts about a PNG screenshot as JSON: size, share of non-white pixels,
distinct colours, and how many pixels are close to each of the given colours
(counted on every second pixel of every second row).
Plain zlib decoding (no PIL), 8-bit RGB/RGBA only.
usage: png_stats.py FILE.png [#rrggbb ...]"""
import json
import struct
import sys
import zlib


def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit("not a PNG")
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = hdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise SystemExit("unsupported PNG (need 8-bit RGB/RGBA, not interlaced)")
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), w * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        if f == 2:  # "up", the usual one: a whole-row add
            line = bytearray((u + v) & 255 for u, v in zip(line, prev))
            rows.append(line)
            prev = line
            continue
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, bpp, rows


def main():
    w, h, bpp, rows = read_png(sys.argv[1])
    targets = [tuple(int(t[k:k + 2], 16) for k in (1, 3, 5)) for t in sys.argv[2:]]
    near = [0] * len(targets)
    colours, non_white = set(), 0
    # Every second pixel of every second row: markers and text are wider than that.
    for line in rows[::2]:
        for x in range(0, w * bpp, 2 * bpp):
            px = (line[x], line[x + 1], line[x + 2])
            colours.add(px)
            if px != (255, 255, 255):
                non_white += 1
            for k, t in enumerate(targets):
                if all(abs(px[j] - t[j]) <= 24 for j in range(3)):
                    near[k] += 1
    seen = ((h + 1) // 2) * ((w + 1) // 2)
    print(json.dumps({"width": w, "height": h, "non_white": non_white / float(seen), "colours": len(colours),
                      "near": dict(zip(sys.argv[2:], near))}))


main()
