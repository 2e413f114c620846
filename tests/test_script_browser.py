"""The script editor in a real browser: typing refreshes the printed page, Ctrl+S saves, and a
save that someone else beat is refused with a merge instead of overwriting anything.

Debian's Chromium through Playwright, as tests/test_browser.py; skipped where it is missing
unless REQUIRE_BROWSER is set. The studio (daphne) is a real process on the test database.
Set SCREENSHOT_DIR to keep screenshots of the editor and the breakdown (1280×800).
"""

import os

import pytest

from storyboards import scripts
from storyboards.models import Script
from tests.test_browser import chromium, diagnostics, new_page, sign_in

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
DINER = """Title: Night Shift
Author: Dana

INT. DINER - NIGHT

Rain streaks the *windows*. MARA slides into a booth. [[rain machine?]]

MARA
(quietly)
We should go.

JOHN
Not yet.

CUT TO:

EXT. PARKING LOT - CONTINUOUS

Mara runs to the car.
"""


@pytest.fixture(scope="module")
def chromium_for_module():
    with chromium() as browser:
        yield browser


@pytest.fixture
def browser(chromium_for_module):
    yield chromium_for_module
    for context in chromium_for_module.contexts:
        context.close()


def open_editor(browser, host: str, username: str, script_id: int):
    page = new_page(browser, DESKTOP)
    sign_in(page, host, username, f"/scripts/{script_id}/")
    page.wait_for_selector("#preview .sp-heading")
    return page


def type_at_end(page, text: str):
    page.focus("#script-text")
    page.keyboard.press("Control+End")
    page.keyboard.type(text)


def screenshot(page, name: str):
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=os.path.join(folder, name))


def test_type_preview_save_and_a_refused_save_offers_the_merge(
    browser, processes, project, dana, arti
):
    script = scripts.script_create(project=project, user=dana, title="Night Shift", text=DINER)
    host = processes.studio()
    with diagnostics(processes, browser):
        first = open_editor(browser, host, "dana", script.id)
        assert first.inner_text("#version-badge") == "v1"
        screenshot(first, "script-editor.png")

        # Typing refreshes the printed page (after a pause), without saving.
        type_at_end(first, "\nINT. ROOFTOP - DAWN\n\nWind.\n")
        first.wait_for_selector("#preview .sp-heading:has-text('INT. ROOFTOP - DAWN')")
        assert Script.objects.get(pk=script.pk).version == 1
        assert first.inner_text("#save-state") == "Unsaved changes"

        # Ctrl+S saves: the badge says the new version.
        first.keyboard.press("Control+s")
        first.wait_for_selector("#version-badge:has-text('v2')")
        saved = Script.objects.get(pk=script.pk)
        assert saved.version == 2 and "INT. ROOFTOP - DAWN" in saved.source
        assert first.input_value("#base-version") == "2"

        # Arti saves version 3 from another browser; Dana's page hears of it.
        second = open_editor(browser, host, "arti", script.id)
        type_at_end(second, "\nThe sun comes up.\n")
        second.keyboard.press("Control+s")
        second.wait_for_selector("#version-badge:has-text('v3')")
        first.wait_for_selector("#live-notice:has-text('arti saved version 3')")

        # Dana, still on version 2, edits the top and saves: refused, with a clear choice.
        first.focus("#script-text")
        first.keyboard.press("Control+Home")
        first.keyboard.type("Draft date: Tuesday\n")
        mine = first.input_value("#script-text")
        first.keyboard.press("Control+s")
        panel = first.wait_for_selector("#conflict:not([hidden])")
        assert "arti saved version 3 while you were editing." in panel.inner_text()
        screenshot(first, "script-conflict.png")
        assert Script.objects.get(pk=script.pk).version == 3  # nothing overwritten
        kept = first.evaluate(f"JSON.parse(localStorage.getItem('slate.script.{script.id}.mine'))")
        assert kept["text"] == mine  # nothing lost either

        # Review merged text: both edits, on top of version 3; saving makes version 4.
        first.click("[data-review-merged]")
        merged = first.input_value("#script-text")
        assert merged.startswith("Draft date: Tuesday\n") and "The sun comes up." in merged
        assert first.input_value("#base-version") == "3"
        assert "Every conflict is resolved" in first.inner_text("#conflict-help")
        first.keyboard.press("Control+s")
        first.wait_for_selector("#version-badge:has-text('v4')")
        assert Script.objects.get(pk=script.pk).source == merged

        # The breakdown shows the new scene; "Storyboard this scene" opens a board made from it.
        first.goto(f"http://{host}/scripts/{script.id}/breakdown/")
        first.wait_for_selector("table.breakdown tbody tr:has-text('ROOFTOP')")
        assert first.locator("table.breakdown tbody tr").count() == 3
        first.click("tr:has-text('DINER') button:has-text('Storyboard this scene')")
        first.wait_for_selector("#panels > article.panel")
        board = script.storyboards.get()
        assert first.url.endswith(f"/storyboards/{board.id}/")
        first.goto(f"http://{host}/scripts/{script.id}/breakdown/")
        row = first.wait_for_selector("tr:has-text('DINER')")
        assert f"{board.panels.count()} panels" in row.inner_text()
        screenshot(first, "script-breakdown.png")
        if os.environ.get("SCREENSHOT_DIR"):  # the other pages, to look at
            for path, name in ((f"/scripts/{script.id}/diff/?a=1&b=4", "script-diff.png"),
                               (f"/projects/{project.id}/cast/", "cast.png"),
                               (f"/projects/{project.id}/", "project.png")):  # fmt: skip
                first.goto(f"http://{host}{path}")
                first.wait_for_load_state("networkidle")
                screenshot(first, name)

        # Chromium logs every 4xx answer to the console; the one refused save is expected.
        refused = "the server responded with a status of 409 (Conflict)"
        for page in (first, second):
            assert page.evaluate("window.__errors") == []
            assert [e for e in page.console_errors if refused not in e] == []
        assert sum(refused in e for e in first.console_errors) == 1
