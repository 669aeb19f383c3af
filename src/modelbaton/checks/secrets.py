"""Finding secrets in package files: cloud keys, tokens, private keys, passwords in URLs.

Text files are searched whole, one pattern at a time: every pattern starts with a literal,
so the regex engine skips ahead at memchr speed. A model artifact can be hundreds of
megabytes of weights, where a regex crawls; there, only the stretches that can hold a
secret are searched: a secret is printable text, and any printable run of 15 or more bytes
contains a whole 8-byte-aligned word of printable bytes. numpy finds those words eight
bytes at a time, and the patterns run on the few stretches around them. Strings shorter
than 15 bytes inside binary files are therefore not searched.

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

_WINDOW = 160  # bytes searched on each side of a printable word in a binary file
_CHUNK = 1 << 20  # 1 MiB of words at a time stays in cache: twice as fast as big chunks


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
    for start, end in _printable_stretches(data):
        yield from _search_text(data[start:end], assign=False, base=start)


def _printable_stretches(data: mmap.mmap) -> Iterator[tuple[int, int]]:
    """Byte ranges around every 8-byte-aligned word whose bytes are all printable ASCII."""
    low, high = np.uint64(0x2020202020202020), np.uint64(0x8080808080808080)
    ones = np.uint64(0x0101010101010101)
    size = len(data)
    words = size // 8
    hits: list[np.ndarray] = []
    for first in range(0, words, _CHUNK // 8):
        count = min(_CHUNK // 8, words - first)
        w = np.frombuffer(data, dtype=np.uint64, count=count, offset=first * 8)
        # Bit tricks (a byte below 0x20; a byte above 0x7e) on eight bytes at once.
        below = np.subtract(w, low)
        below &= ~w
        above = np.add(w, ones)
        above |= w
        below |= above
        below &= high
        hits.append(np.flatnonzero(below == 0) + first)
    positions = np.concatenate(hits) * 8 if hits else np.empty(0, dtype=np.int64)
    if size % 8:  # the tail that does not fill a word is always searched
        positions = np.append(positions, size - size % 8)
    start = end = -1
    for pos in positions.tolist():
        lo, hi = max(0, pos - _WINDOW), min(size, pos + 8 + _WINDOW)
        if lo > end:
            if end > start:
                yield start, end
            start = lo
        end = max(end, hi)
    if end > start:
        yield start, end


def _is_placeholder(value: bytes) -> bool:
    return bool(_PLACEHOLDER.match(value))


def _line(data: mmap.mmap, offset: int) -> int:
    return data[:offset].count(b"\n") + 1
