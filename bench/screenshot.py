"""Regenerate docs/screenshot.png, the README's picture of a storyboard page.

Runs tests/test_browser.py::test_readme_screenshot with SLATE_SCREENSHOT=1: a throwaway studio
(daphne) and worker on a test database, a four-panel scene with takes, comments and one take
still forming, seen by Dana in Chromium at 1400x900. Needs Redis and Debian's Chromium.

    .venv/bin/python bench/screenshot.py          # add DATABASE_URL=... for PostgreSQL
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    env = {**os.environ, "SLATE_SCREENSHOT": "1", "REQUIRE_BROWSER": "1"}
    test = "tests/test_browser.py::test_readme_screenshot"
    code = subprocess.call(
        [sys.executable, "-m", "pytest", test, "-q", "-p", "no:cacheprovider"], cwd=ROOT, env=env
    )
    if code == 0:
        path = ROOT / "docs" / "screenshot.png"
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size // 1024} KB)")
    sys.exit(code)
