"""Fountain emphasis: *italic*, **bold**, ***bold italic***, _underline_ and the \\* \\_ escapes."""

from __future__ import annotations

import re

# Private-use stand-ins for escaped markers while the pairs are taken out.
_ESCAPED = {"\\*": "\ue000", "\\_": "\ue001"}
# The emphasised words never hold their own marker, so a stray "*" costs one look ahead to the
# next "*", not a scan of the whole line: reading stays linear whatever the line holds.
_PAIRS = (
    re.compile(r"\*\*\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*\*\*"),
    re.compile(r"\*\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*\*"),
    re.compile(r"\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*"),
    re.compile(r"_(?=[^\s_])([^_\n]+?)(?<=[^\s_])_"),
)


def plain(markup: str) -> str:
    """The text a reader sees: paired markers removed, escaped ones kept as characters."""
    if "*" not in markup and "_" not in markup:
        return markup
    text = markup.replace("\\*", _ESCAPED["\\*"]).replace("\\_", _ESCAPED["\\_"])
    for _ in range(2):  # twice: "**bold *and italic* bold**" opens up after the inner pair
        for pair in _PAIRS:
            text = pair.sub(r"\1", text)
    return text.replace("\ue000", "*").replace("\ue001", "_")


def escape(text: str) -> str:
    """Markup that reads back as exactly this text."""
    return text.replace("*", "\\*").replace("_", "\\_")
