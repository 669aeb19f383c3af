"""Finding secrets in package files: cloud keys, tokens, private keys, passwords in URLs.

Text files are searched whole, one pattern at a time: every pattern starts with a literal,
so the regex engine skips ahead at memchr speed. A model artifact can be hundreds of
megabytes of weights, where a regex crawls; there, only the stretches that can hold a
secret are searched: a secret is printable text, and any printable run of 15 or more bytes
contains a whole 8-byte-aligned word of printable bytes. numpy finds those words (two
vector passes over the bytes), and the patterns run once over the stretches around them.
Strings shorter than 15 bytes inside binary files are therefore not searched.

A finding never shows the secret itself: only its kind and where it is.
"""

from __future__ import annotations

import mmap
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: (kind, pattern). Each pattern begins with a literal, which keeps whole-file search fast.
PATTERNS: tuple[tuple[str, re.Pattern[bytes]], ...] = tuple(
    (kind, re.compile(pattern)) for kind, pattern in (
        ("AWS access key id", rb"AKIA[0-9A-Z]{16}(?![0-9A-Z])"),
        ("AWS secret access key", rb"(?i:aws_secret_access_key)[\"']?\s*[:=]\s*[\"']?"
                                  rb"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])"),
        ("private key", rb"-----BEGIN[A-Z0-9 ]{0,20} PRIVATE KEY( BLOCK)?-----"),
        ("GitHub token", rb"gh[pousr]_[A-Za-z0-9]{36,}"),
        ("GitHub token", rb"github_pat_[A-Za-z0-9_]{40,}"),
        ("GitLab token", rb"glpat-[A-Za-z0-9_-]{20,}"),
        ("Slack token", rb"xox[abposr]-[A-Za-z0-9-]{10,}"),
        ("Stripe live key", rb"[sr]k_live_[A-Za-z0-9]{16,}"),
        ("Google API key", rb"AIza[0-9A-Za-z_-]{35}"),
        ("Hugging Face token", rb"hf_[A-Za-z]{34,}"),
        ("OpenAI API key", rb"sk-(?:proj-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}"),
        ("Azure storage account key", rb"AccountKey=[A-Za-z0-9+/]{86}=="),
        ("password in a URL",
         rb"://[^\s/:@\"'<>]{1,128}:(?P<secret>[^\s/@\"'<>]{1,256})@[\w.-]"),
    )
)
#: Passwords and keys assigned in code or configuration; searched in small text files only.
ASSIGNMENT = re.compile(
    rb"(?i)\b(password|passwd|pwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token)"
    rb"[\"']?\s*[:=]\s*[\"']([^\"'\s]{8,})[\"']")
_ASSIGNMENT_MAX_BYTES = 10 << 20
_PLACEHOLDER = re.compile(rb"^(\$|\{|<|%|\*+$|x+$|X+$|\.\.\.|TODO|changeme|password$)", re.I)

# Bytes searched on each side of a printable word of a binary file. A secret is one run of
# printable bytes, so its aligned words' windows overlap and cover it whole; the window
# only needs to reach the up to 7 bytes before the first aligned word and after the last.
_WINDOW = 32
_SEPARATOR = b"\n\n"  # between stretches: no pattern matches across it
_CHUNK = 1 << 20  # bytes per step: 1 MiB stays in cache, twice as fast as big chunks


@dataclass(frozen=True)
class Secret:
    kind: str
    line: int | None  # for text files
    offset: int  # byte offset in the file


def scan_file(path: Path) -> list[Secret]:
    """Every secret found in one file, in file order, at most one per position."""
    size = path.stat().st_size
    if size == 0:
        return []
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        text = b"\0" not in data[:8192]
        if text:
            found = dict(_search_text(data, assign=size <= _ASSIGNMENT_MAX_BYTES))
        else:
            found = dict(_search_binary(data))
        hits = sorted(found.items())
        return [Secret(kind, _line(data, offset) if text else None, offset)
                for offset, kind in hits]


def _search_text(data: mmap.mmap | bytes, *, assign: bool, base: int = 0) -> Iterator[
        tuple[int, str]]:
    for kind, pattern in PATTERNS:
        for match in pattern.finditer(data):
            secret = match.groupdict().get("secret")
            if secret is not None and _is_placeholder(secret):
                continue
            yield base + match.start(), kind
    if assign:
        for match in ASSIGNMENT.finditer(data):
            if not _is_placeholder(match.group(2)):
                yield base + match.start(), f"hard-coded {match.group(1).decode().lower()}"


def _search_binary(data: mmap.mmap) -> Iterator[tuple[int, str]]:
    """Search only the stretches that can hold a secret, joined into one buffer."""
    starts, ends = _printable_stretches(data)
    if not len(starts):
        return
    # Each pattern runs once over all stretches, not once per stretch.
    joined = _SEPARATOR.join(data[a:b] for a, b in zip(starts.tolist(), ends.tolist()))
    lengths = ends - starts + len(_SEPARATOR)
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))  # of each stretch in `joined`
    for position, kind in _search_text(joined, assign=False):
        i = int(np.searchsorted(offsets, position, side="right")) - 1
        yield int(starts[i] + position - offsets[i]), kind


def _printable_stretches(data: mmap.mmap) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of byte ranges around every 8-byte-aligned word of printable ASCII."""
    size = len(data)
    whole = size // 8 * 8
    shifted = np.empty(_CHUNK, dtype=np.uint8)
    printable = np.empty(_CHUNK, dtype=bool)
    all_printable = np.uint64(0x0101010101010101)  # eight True bytes, seen as one word
    hits: list[np.ndarray] = []
    for offset in range(0, whole, _CHUNK):
        count = min(_CHUNK, whole - offset)
        chunk = np.frombuffer(data, dtype=np.uint8, count=count, offset=offset)
        # 0x20 <= byte <= 0x7e, as one unsigned comparison after a wrapping subtraction.
        np.subtract(chunk, np.uint8(0x20), out=shifted[:count])
        np.less(shifted[:count], np.uint8(0x5F), out=printable[:count])
        words = printable[:count].view(np.uint64)
        hits.append(np.flatnonzero(words == all_printable) + offset // 8)
    positions = np.concatenate(hits) * 8 if hits else np.empty(0, dtype=np.int64)
    if size % 8:  # the tail that does not fill a word is always searched
        positions = np.append(positions, size - size % 8)
    if not len(positions):
        return positions, positions
    lo = np.maximum(positions - _WINDOW, 0)
    hi = np.minimum(positions + 8 + _WINDOW, size)
    # Windows have one length and sorted starts: a new stretch begins after a gap.
    new = np.flatnonzero(lo[1:] > hi[:-1]) + 1
    return lo[np.concatenate(([0], new))], hi[np.concatenate((new - 1, [len(hi) - 1]))]


def _is_placeholder(value: bytes) -> bool:
    return bool(_PLACEHOLDER.match(value))


def _line(data: mmap.mmap, offset: int) -> int:
    return data[:offset].count(b"\n") + 1
