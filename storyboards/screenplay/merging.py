"""Three-way merge of two edits of one script, line by line."""

from __future__ import annotations

from merge3 import Merge3


def merge(base: str, mine: str, theirs: str, theirs_label: str = "latest") -> tuple[str, int]:
    """Merge my edit and theirs, both made from base: (text, number of conflicts).

    A conflict is written the git way, my lines first:
    "<<<<<<< yours", my lines, "=======", their lines, ">>>>>>> {theirs_label}".
    """
    split = [_lines(text) for text in (base, mine, theirs)]
    merger = Merge3(*split)
    conflicts = sum(1 for region in merger.merge_regions() if region[0] == "conflict")
    text = "".join(
        merger.merge_lines(
            name_a="yours",
            name_b=theirs_label,
            start_marker="<<<<<<<",
            mid_marker="=======",
            end_marker=">>>>>>>",
        )
    )
    # Lines were given a final newline so that a marker never glues onto a last line.
    if not mine.endswith("\n") and not theirs.endswith("\n") and text.endswith("\n"):
        text = text[:-1]
    return text, conflicts


def _lines(text: str) -> list[str]:
    """Lines with their "\n" (str.splitlines would also break at form feeds and U+2028)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text and not text.endswith("\n"):
        text += "\n"
    return [line + "\n" for line in text.split("\n")[:-1]]
