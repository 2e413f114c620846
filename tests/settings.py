"""Test settings: the real services, but a Redis database of their own (tests flush it)."""

import os

os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
# A queue and channel prefix per test run: two runs on one Redis never steal each other's work.
# Subprocesses started by tests inherit these through the environment.
os.environ.setdefault("SLATE_QUEUE", f"takes-test-{os.getpid()}")
os.environ.setdefault("SLATE_EXPORT_QUEUE", f"exports-test-{os.getpid()}")
os.environ.setdefault("SLATE_CHANNEL_PREFIX", f"test{os.getpid()}")
# Under pytest-xdist the test processes (gw0, gw1…) inherit the controller's values above: each
# takes its own queue, prefix and Redis database on its first import (its subprocesses, seeing
# the same SLATE_TEST_PROCESS, keep what they inherit), so one that empties its Redis database
# (a recovery test) or counts its queue cannot see another's.
_xdist = os.environ.get("PYTEST_XDIST_WORKER", "")
if _xdist[2:].isdigit() and os.environ.get("SLATE_TEST_PROCESS") != _xdist:
    os.environ["SLATE_TEST_PROCESS"] = _xdist
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:6379/{15 - int(_xdist[2:]) % 12}"
    os.environ["SLATE_QUEUE"] = f"takes-test-{os.getpid()}"
    os.environ["SLATE_EXPORT_QUEUE"] = f"exports-test-{os.getpid()}"
    os.environ["SLATE_CHANNEL_PREFIX"] = f"test{os.getpid()}"

from studio.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SLATE_SIGNUP_ENABLED = True
# Takes signed in tests (their workers too) use a local CA of the tests' own, never `make run`'s.
SLATE_C2PA_CERT = Path(os.environ.get("SLATE_C2PA_CERT", VAR_DIR / "test-c2pa" / "chain.pem"))  # noqa: F405
SLATE_C2PA_KEY = Path(os.environ.get("SLATE_C2PA_KEY", VAR_DIR / "test-c2pa" / "signer.key"))  # noqa: F405

# Each test run gets its own database, so two runs (or a run beside `make run`) never collide.
_engine = DATABASES["default"]["ENGINE"]  # noqa: F405
if _engine.endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}  # noqa: F405
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_slate_{os.getpid()}"}  # noqa: F405
