"""Test settings: the real services, but a Redis database of their own (tests flush it)."""

import os

# Under pytest-xdist each test process (gw0, gw1…) gets a Redis database of its own, so one
# that empties its database (a recovery test) cannot touch another's queue.
_xdist = os.environ.get("PYTEST_XDIST_WORKER", "")
_redis_db = 15 - int(_xdist[2:]) if _xdist.startswith("gw") and _xdist[2:].isdigit() else 15
os.environ.setdefault("REDIS_URL", f"redis://127.0.0.1:6379/{_redis_db}")
# A queue and channel prefix per test run: two runs on one Redis never steal each other's work.
# Subprocesses started by tests inherit these through the environment.
os.environ.setdefault("SLATE_QUEUE", f"takes-test-{os.getpid()}")
os.environ.setdefault("SLATE_CHANNEL_PREFIX", f"test{os.getpid()}")

from studio.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SLATE_SIGNUP_ENABLED = True

# Each test run gets its own database, so two runs (or a run beside `make run`) never collide.
_engine = DATABASES["default"]["ENGINE"]  # noqa: F405
if _engine.endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}  # noqa: F405
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_slate_{os.getpid()}"}  # noqa: F405
