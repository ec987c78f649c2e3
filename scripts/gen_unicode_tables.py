#!/usr/bin/env python3
"""Generates core/text/unicode_tables.cc from Python's `unicodedata` and `str.lower()`.

The WordPiece tokenizer (core/text/wordpiece_tokenizer.cc) must agree byte for byte
with HuggingFace's Python `BertTokenizer`, whose text normalisation is defined
in terms of Python's `unicodedata` module and `str.lower()`. This script dumps
exactly the data that tokenizer needs, in compact tables:

  * per-codepoint class flags (control / whitespace / punctuation / Mn / ...)
    as a sorted range table (one entry per run of equal flags);
  * the lowercase mapping as runs of (start, count, stride, delta) plus the few
    codepoints whose lowercase is more than one codepoint;
  * full canonical decompositions (NFD), Hangul syllables excluded (they are
    decomposed algorithmically);
  * canonical combining classes as ranges;
  * canonical composition pairs (for NFC), Hangul excluded.

Every table is verified against `unicodedata` before it is written.

Usage: python3 scripts/gen_unicode_tables.py [output.cc]
       (default: core/text/unicode_tables.cc next to this script's repository)
"""

import os
import sys
import unicodedata

MAX_CP = 0x110000
HANGUL_S_BASE, HANGUL_S_COUNT = 0xAC00, 11172

# Flag bits; must match core/text/unicode_tables.h.
F_CONTROL = 1 << 0       # dropped by BasicTokenizer._clean_text
F_WHITESPACE = 1 << 1    # BasicTokenizer._is_whitespace -> replaced by ' '
F_SPLIT_SPACE = 1 << 2   # str.isspace(): str.split() separates on it
F_PUNCT = 1 << 3         # BasicTokenizer._is_punctuation
F_MN = 1 << 4            # category Mn: removed by _run_strip_accents
F_LOWER = 1 << 5         # chr(cp).lower() != chr(cp)
F_NFD = 1 << 6           # NFD(chr(cp)) != chr(cp)
F_NFC_UNSAFE = 1 << 7    # NFC of a string holding cp may differ from the input


def hf_is_whitespace(ch):
    if ch in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(ch) == "Zs"


def hf_is_control(ch):
    if ch in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(ch).startswith("C")


def hf_is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def canonical_pairs():
    """Primary composites: {(first, second): composite}, Hangul excluded."""
    pairs = {}
    for cp in range(MAX_CP):
        if HANGUL_S_BASE <= cp < HANGUL_S_BASE + HANGUL_S_COUNT:
            continue
        decomp = unicodedata.decomposition(chr(cp))
        if not decomp or decomp.startswith("<"):
            continue
        parts = [int(x, 16) for x in decomp.split()]
        if len(parts) != 2:
            continue
        ch = chr(cp)
        # Composition exclusions and non-starter decompositions never recompose.
        if unicodedata.normalize("NFC", unicodedata.normalize("NFD", ch)) != ch:
            continue
        pairs[(parts[0], parts[1])] = cp
    return pairs


def compute_flags(pairs):
    second_elements = {b for (_, b) in pairs}
    # Hangul V and T jamo combine with a preceding L / LV syllable.
    second_elements.update(range(0x1161, 0x1176))
    second_elements.update(range(0x11A8, 0x11C3))
    flags = bytearray(MAX_CP)
    for cp in range(MAX_CP):
        ch = chr(cp)
        f = 0
        if cp == 0 or cp == 0xFFFD or hf_is_control(ch):
            f |= F_CONTROL
        if hf_is_whitespace(ch):
            f |= F_WHITESPACE
        if ch.isspace():
            f |= F_SPLIT_SPACE
        if hf_is_punctuation(ch):
            f |= F_PUNCT
        if unicodedata.category(ch) == "Mn":
            f |= F_MN
        if ch.lower() != ch:
            f |= F_LOWER
        if unicodedata.normalize("NFD", ch) != ch:
            f |= F_NFD
        if (unicodedata.normalize("NFC", ch) != ch or unicodedata.combining(ch) != 0
                or cp in second_elements):
            f |= F_NFC_UNSAFE
        flags[cp] = f
    return flags


def range_table(values):
    """[(start, value)] for each run of equal values over 0..MAX_CP-1."""
    out = []
    prev = None
    for cp in range(MAX_CP):
        v = values[cp]
        if v != prev:
            out.append((cp, v))
            prev = v
    return out


def lower_tables():
    singles = []
    multi = []
    for cp in range(MAX_CP):
        low = chr(cp).lower()
        if low == chr(cp):
            continue
        if len(low) == 1:
            singles.append((cp, ord(low)))
        else:
            multi.append((cp, [ord(c) for c in low]))
    runs = []  # [start, count, stride, delta]
    for cp, low in singles:
        delta = low - cp
        if runs:
            start, count, stride, rdelta = runs[-1]
            last = start + (count - 1) * stride
            step = cp - last
            if rdelta == delta and step in (1, 2) and (count == 1 or step == stride):
                runs[-1] = [start, count + 1, step, delta]
                continue
        runs.append([cp, 1, 1, delta])
    # Verify.
    lookup = {}
    for start, count, stride, delta in runs:
        assert count < 65536 and stride < 256
        for k in range(count):
            lookup[start + k * stride] = start + k * stride + delta
    assert lookup == dict(singles), "lowercase run compression is lossy"
    for _, out in multi:
        assert len(out) <= 3
    return runs, multi


def nfd_tables():
    entries = []  # (cp, [decomposition])
    for cp in range(MAX_CP):
        if HANGUL_S_BASE <= cp < HANGUL_S_BASE + HANGUL_S_COUNT:
            continue
        d = unicodedata.normalize("NFD", chr(cp))
        if d != chr(cp):
            entries.append((cp, [ord(c) for c in d]))
    return entries


def ccc_ranges():
    out = []  # [start, end_inclusive, ccc]
    for cp in range(MAX_CP):
        c = unicodedata.combining(chr(cp))
        if c == 0:
            continue
        if out and out[-1][1] == cp - 1 and out[-1][2] == c:
            out[-1][1] = cp
        else:
            out.append([cp, cp, c])
    return out


def wrap_items(items, indent="    ", width=80):
    """Joins C++ initialiser items into lines of at most `width` columns."""
    lines, line = [], indent
    for item in items:
        piece = item + ","
        if line != indent and len(line) + 1 + len(piece) > width:
            lines.append(line)
            line = indent
        line = line + (" " if line != indent else "") + piece
    if line != indent:
        lines.append(line)
    return lines


def fmt_array(ctype, name, values, fmt=str):
    return "\n".join([f"const {ctype} {name}[] = {{"] +
                     wrap_items([fmt(v) for v in values]) + ["};"])


def hex_cp(v):
    return f"0x{v:X}"


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        root, "core", "unicode_tables.cc")

    pairs = canonical_pairs()
    flags = compute_flags(pairs)
    class_ranges = range_table(flags)
    lower_runs, lower_multi = lower_tables()
    nfd = nfd_tables()
    cccs = ccc_ranges()

    pool = []
    nfd_cps, nfd_off, nfd_len = [], [], []
    for cp, d in nfd:
        nfd_cps.append(cp)
        nfd_off.append(len(pool))
        nfd_len.append(len(d))
        pool.extend(d)
    assert len(pool) < 65536 and max(nfd_len) <= 255

    pair_items = sorted(((a << 21) | b, c) for (a, b), c in pairs.items())

    parts = []
    parts.append(f"""// File: core/text/unicode_tables.cc
//
// GENERATED by scripts/gen_unicode_tables.py -- do not edit by hand.
// Source: Python {sys.version.split()[0]} `unicodedata` (Unicode {unicodedata.unidata_version})
// and `str.lower()`. Regenerate with: python3 scripts/gen_unicode_tables.py
//
// {len(class_ranges)} class ranges, {len(lower_runs)} lowercase runs, \
{len(lower_multi)} multi-codepoint lowercase
// mappings, {len(nfd)} decompositions ({len(pool)} pool entries),
// {len(cccs)} combining-class ranges, {len(pair_items)} composition pairs.

#include "core/text/unicode_tables.h"

namespace maskserve {{
namespace unicode {{

const char kUnicodeVersion[] = "{unicodedata.unidata_version}";
""")
    parts.append(fmt_array("uint32_t", "kClassRangeStart",
                           [s for s, _ in class_ranges], hex_cp))
    parts.append(fmt_array("uint8_t", "kClassRangeFlags",
                           [v for _, v in class_ranges]))
    parts.append(f"const size_t kClassRangeCount = {len(class_ranges)};\n")

    parts.append("const LowerRun kLowerRuns[] = {")
    parts.extend(wrap_items(
        [f"{{0x{s:X}, {c}, {st}, {d}}}" for s, c, st, d in lower_runs]))
    parts.append("};")
    parts.append(f"const size_t kLowerRunCount = {len(lower_runs)};\n")

    parts.append("const LowerMulti kLowerMulti[] = {")
    for cp, out in lower_multi:
        padded = out + [0] * (3 - len(out))
        cps = ", ".join(hex_cp(v) for v in padded)
        parts.append(f"    {{0x{cp:X}, {{{cps}}}, {len(out)}}},")
    parts.append("};")
    parts.append(f"const size_t kLowerMultiCount = {len(lower_multi)};\n")

    parts.append(fmt_array("uint32_t", "kNfdCodepoints", nfd_cps, hex_cp))
    parts.append(fmt_array("uint16_t", "kNfdOffsets", nfd_off))
    parts.append(fmt_array("uint8_t", "kNfdLengths", nfd_len))
    parts.append(f"const size_t kNfdCount = {len(nfd_cps)};")
    parts.append(fmt_array("uint32_t", "kNfdPool", pool, hex_cp))
    parts.append(f"const size_t kNfdPoolSize = {len(pool)};\n")

    parts.append("const CccRange kCccRanges[] = {")
    parts.extend(wrap_items([f"{{0x{s:X}, 0x{e:X}, {c}}}" for s, e, c in cccs]))
    parts.append("};")
    parts.append(f"const size_t kCccRangeCount = {len(cccs)};\n")

    parts.append(fmt_array("uint64_t", "kCompositionKeys",
                           [k for k, _ in pair_items], lambda v: f"0x{v:X}ull"))
    parts.append(fmt_array("uint32_t", "kCompositionValues",
                           [v for _, v in pair_items], hex_cp))
    parts.append(f"const size_t kCompositionCount = {len(pair_items)};\n")

    parts.append("}  // namespace unicode\n}  // namespace maskserve\n")

    text = "\n".join(parts)
    with open(out_path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print(f"wrote {out_path}: {len(text)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
