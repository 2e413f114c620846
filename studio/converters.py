"""Ids in URLs: at most 18 digits, so a path can never name a number the database cannot hold
(a longer one is simply not a URL of ours: 404, or a refused socket)."""

from django.urls import register_converter


class IdConverter:
    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")
