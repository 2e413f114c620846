"""Input types shared by every API: bounded ids and text without NUL bytes (PostgreSQL refuses them)."""

from typing import Annotated

from ninja import Path
from pydantic import AfterValidator, Field


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: JSON allows it, no database stores it
        raise ValueError("must be valid Unicode") from None
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
ShortText = Annotated[str, Field(max_length=200), AfterValidator(_no_nul)]
Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_no_nul)]
PathId = Annotated[int, Path(ge=1, le=2**62)]
Id = Annotated[int, Field(ge=1, le=2**62)]
