"""Turning an uploaded file into Fountain text, with errors a writer can act on."""

from __future__ import annotations

import codecs
import re
from pathlib import PurePath

from .fdx import parse_fdx
from .fountain import parse_fountain
from .model import ScriptError
from .writer import to_fountain

TEXT_EXTENSIONS = {".fountain": "fountain", ".spmd": "fountain", ".txt": "plain"}
# Text never holds more than a sprinkle of control characters (tab, line and page breaks aside).
MAX_CONTROL_SHARE = 0.01
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")  # all but tab, line and page breaks


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) or UTF-16/32 with BOM, as text without the BOM."""
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return _checked(data.decode(encoding))
            except UnicodeDecodeError as error:
                raise ScriptError(
                    f"The file starts like {encoding.upper().replace('-SIG', '')} text but is "
                    f"damaged at byte {error.start}. Save it as UTF-8 and import again."
                ) from error
    if b"\x00" in data:
        raise ScriptError(
            "The file is not text Slate can read (it holds NUL bytes, as images, documents and "
            "UTF-16 text without a byte-order mark do). Save the script as UTF-8 Fountain, "
            "plain text or Final Draft and import again."
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ScriptError(
            f"The file is not UTF-8 text (byte 0x{data[error.start]:02X} at position "
            f"{error.start}, line {line}). Save it as UTF-8 and import again."
        ) from error
    return _checked(text)


def _checked(text: str) -> str:
    controls = len(_CONTROL_RE.findall(text))
    if "\x00" in text or controls > max(3, len(text) * MAX_CONTROL_SHARE):
        raise ScriptError(
            "The file is not text (it is full of control characters). "
            "Import a screenplay saved as Fountain, plain text or Final Draft."
        )
    return text


def read_upload(filename: str, data: bytes) -> tuple[str, str, str]:
    """(title, Fountain text, format) of an uploaded script; format is fountain, fdx or plain.

    The Fountain text has "\\n" line endings, so line numbers mean the same everywhere."""
    extension = PurePath(filename).suffix.lower()
    if extension not in TEXT_EXTENSIONS and extension != ".fdx":
        raise ScriptError("Import a .fountain, .txt or .fdx file.")
    if not data.strip():
        raise ScriptError(f"{PurePath(filename).name} is empty: there is no script in it.")
    if extension == ".fdx":
        screenplay = parse_fdx(data)
        text, format_name = to_fountain(screenplay), "fdx"
    else:
        text = decode_text(data).replace("\r\n", "\n").replace("\r", "\n")
        if not text.strip():
            raise ScriptError(f"{PurePath(filename).name} is empty: there is no script in it.")
        screenplay, format_name = parse_fountain(text), TEXT_EXTENSIONS[extension]
    return screenplay.title or PurePath(filename).stem, text, format_name
