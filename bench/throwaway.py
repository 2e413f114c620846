"""A throwaway studio for a bench: its own var dir, Redis database and database, never the
developer's data. SQLite lives in the var dir; with DATABASE_URL set (PostgreSQL), a test_<name>
database is created on that server and dropped at the end, as the test runner does."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Anything inherited that could point Django at the developer's data. DATABASE_URL stays: it
# picks the server, and the database on it is a throwaway one.
ISOLATION_UNSET = {
    "SLATE_DB_NAME", "MEDIA_ROOT", "SECRET_KEY", "SLATE_MEDIA_STORAGE", "SLATE_MODELS_FILE",
    "SLATE_VAR_DIR", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "SLATE_QUEUE", "SLATE_CHANNEL_PREFIX",
    "DEBUG", "SLATE_C2PA_CERT", "SLATE_C2PA_KEY",
}  # fmt: skip


@contextmanager
def throwaway_studio(*, prefix: str, redis_url: str) -> Iterator[Path]:
    """Django set up on a fresh var dir and a migrated throwaway database; yields the var dir."""
    var_dir = Path(tempfile.mkdtemp(prefix=prefix))
    for name in ISOLATION_UNSET:
        os.environ.pop(name, None)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="studio.settings", SLATE_VAR_DIR=str(var_dir), REDIS_URL=redis_url
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    old_name, test_db = connection.settings_dict["NAME"], False
    try:
        if connection.vendor == "sqlite":  # already a file in the throwaway var dir
            call_command("migrate", verbosity=0, interactive=False)
        else:
            connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
            test_db = True
        yield var_dir
    finally:
        if test_db:
            connection.creation.destroy_test_db(old_name, verbosity=0)
        connection.close()
        shutil.rmtree(var_dir, ignore_errors=True)


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())
