"""One test per hardening finding (issue 9) that this code has answered; the attack, reproduced.

Also here by reference: cross-site sockets (test_live_updates.test_cross_site_browser_socket_is_refused),
unknown socket paths and huge ids (…test_unknown_socket_paths_and_huge_ids_are_refused_cleanly,
test_pages.test_ids_too_big_for_the_database_and_odd_digits_are_404s), a deactivated account's
sockets (test_live_updates.test_a_deactivated_account_stops_hearing_at_once), an escaped error
(test_pages.test_a_refused_panel_is_explained_on_the_board_escaped), media revalidation
(test_permissions.test_media_is_revalidated_so_a_removed_member_keeps_nothing), a socket that
stops reading (test_events.test_a_socket_that_stops_reading_is_cut_off_not_buffered_forever).
"""

import secrets
import subprocess
import sys

from .conftest import ROOT


def test_deploy_check_is_clean_with_the_https_settings_on():
    env = {
        "PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "studio.settings", "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50), "SLATE_HTTPS": "1",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1", "SECURE_HSTS_PRELOAD": "1",
    }  # fmt: skip
    check = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    assert "no issues" in check.stdout
