"""Errors every app raises and every API answers the same way."""

from django.core.exceptions import ValidationError
from ninja import Schema


class Conflict(ValidationError):
    """The request is well formed but the current state forbids it (answered 409):
    cancelling a finished take, removing the last owner, adding a member twice."""


class TooMany(ValidationError):
    """The person already has as much waiting as they may (answered 429): a quota, counted in
    the database."""


class Error(Schema):
    detail: str | list[dict]


# Declared on every endpoint, so clients and fuzzers know what each one may answer.
ERRORS = {
    400: Error, 401: Error, 403: Error, 404: Error, 409: Error, 413: Error, 422: Error, 429: Error,
}  # fmt: skip
