"""Fitting a panel's words into a box: wrapped to a width, cut to a number of lines.

Shared by the PDF (reportlab's font metrics) and the animatic's captions (Pillow's): each passes
`measure`, the width of a string in its own units.
"""

from __future__ import annotations

import re
from collections.abc import Callable

ELLIPSIS = "…"
# Control characters print as boxes or break a PDF string; tabs and newlines are kept as spaces
# and line breaks.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean(text: str) -> str:
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " "))


def wrap_lines(
    text: str, *, width: float, measure: Callable[[str], float], max_lines: int
) -> list[str]:
    """`text` wrapped to `width`, kept line breaks included; past `max_lines` the last line ends
    in an ellipsis. A word wider than the box is broken, so nothing ever overflows."""
    if max_lines < 1:
        return []
    lines: list[str] = []
    for paragraph in clean(text).split("\n"):
        lines.extend(_wrap_paragraph(paragraph.strip(), width, measure))
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) <= max_lines:
        return lines
    kept = lines[:max_lines]
    kept[-1] = _with_ellipsis(kept[-1], width, measure)
    return kept


def _wrap_paragraph(paragraph: str, width: float, measure) -> list[str]:
    if not paragraph:
        return [""]
    lines, line = [], ""
    for word in paragraph.split():
        candidate = f"{line} {word}" if line else word
        if measure(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while measure(word) > width and len(word) > 1:  # a URL, a long name: break it
            cut = _longest_prefix(word, width, measure)
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    lines.append(line)
    return lines


def _longest_prefix(word: str, width: float, measure) -> int:
    """How many leading characters of `word` fit (at least one, so wrapping always advances)."""
    low, high = 1, len(word)
    while low < high:
        middle = (low + high + 1) // 2
        if measure(word[:middle]) <= width:
            low = middle
        else:
            high = middle - 1
    return low


def _with_ellipsis(line: str, width: float, measure) -> str:
    while line and measure(line.rstrip() + ELLIPSIS) > width:
        line = line[:-1]
    return line.rstrip() + ELLIPSIS


def duration_label(duration_ms: int) -> str:
    """2000 -> "2 s", 2500 -> "2.5 s", 1234 -> "1.23 s"."""
    return f"{duration_ms / 1000:.2f}".rstrip("0").rstrip(".") + " s"
