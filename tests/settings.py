"""Test settings: the real services, but a Redis database of their own (tests flush it)."""

import os

os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")

from studio.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SLATE_SIGNUP_ENABLED = True
