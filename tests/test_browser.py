"""The storyboard page in a real browser: two people, one board, live over the socket.

Debian's Chromium through Playwright (see STACK-NOTES "Browser"); skipped where it is missing
unless REQUIRE_BROWSER is set. The studio (daphne) and a worker are real processes on the test
database, so everything the page shows went through the same paths as in production.
"""

import contextlib
import os

import pytest

from tests.conftest import ROOT, browser_or_skip, wait_for

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 60_000

# Runs in every page before its own scripts. Remembers every take progress bar the page ever
# showed (inside the Queued/running overlay) and the furthest it got, however briefly it was
# there; every script error; and every time the live socket closed (events sent while it is
# down never reach that page).
WATCH = """
window.__bars = {};
window.__errors = [];
window.__socketDrops = 0;
window.addEventListener("error", (e) => window.__errors.push(String(e.message)));
document.addEventListener("htmx:wsClose", () => { window.__socketDrops += 1; });
new MutationObserver(() => {
  for (const bar of document.querySelectorAll(".frame .overlay [id^='take-'][id$='-bar']")) {
    const value = +bar.getAttribute("aria-valuenow") || 0;
    window.__bars[bar.id] = Math.max(window.__bars[bar.id] ?? 0, value);
  }
}).observe(document, {childList: true, subtree: true, attributes: true});
"""


@contextlib.contextmanager
def chromium():
    from playwright.sync_api import sync_playwright

    path = browser_or_skip()
    # Playwright's sync API keeps an event loop on this thread; Django's ORM (fixture teardown
    # flushes the database) would otherwise refuse to run while it is open.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
                # Database calls made inside this block ran in Playwright's greenlet, with a
                # connection of their own: close it, or PostgreSQL refuses to drop the test database.
                from django.db import connections

                connections.close_all()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def open_board(browser, host: str, username: str, storyboard_id: int):
    """A fresh context, signed in through the real login page, on the storyboard, socket live."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(WATCH)
    page = context.new_page()
    page.console_errors = []  # any console error fails the test (assert_not_reloaded)
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    page.goto(f"http://{host}/login/?next=/storyboards/{storyboard_id}/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"{username}-secret-pw")
    page.click(".auth-card button.primary")
    page.wait_for_url(f"**/storyboards/{storyboard_id}/")
    page.wait_for_selector("#live-status.on")  # the socket is open: live events will arrive
    page.evaluate("window.__marker = 1")  # gone if the page ever reloads
    return page


def assert_not_reloaded(page):
    assert page.evaluate("window.__marker") == 1, "the page reloaded"
    assert page.evaluate("window.__errors") == []
    assert page.console_errors == []
    assert page.evaluate("window.__socketDrops") == 0, "the live socket dropped (see daphne's log)"


@contextlib.contextmanager
def diagnostics(processes, browser=None):
    """On failure: the studio's and worker's logs, and a screenshot of every open page."""
    try:
        yield
    except BaseException:
        print("---- process logs ----\n" + processes.logs())
        for i, page in enumerate(p for c in (browser.contexts if browser else []) for p in c.pages):
            with contextlib.suppress(Exception):
                path = processes.tmp_path / f"page-{i}.png"
                page.screenshot(path=str(path), full_page=True)
                print(f"page {i} ({page.url}): {path}")
        raise


def test_generate_and_comment_live_on_two_pages(processes, project, storyboard, panel):
    host = processes.studio()
    processes.worker()
    with chromium() as browser, diagnostics(processes, browser):
        dana = open_board(browser, host, "dana", storyboard.id)
        arti = open_board(browser, host, "arti", storyboard.id)
        frame = f"#panel-{panel.id}-frame"
        for page in (dana, arti):
            assert page.locator(f"{frame} .empty-frame").is_visible()

        dana.click(f"#panel-{panel.id} [data-generate]")

        # Both pages show the take's progress (Dana's from her own answer, Arti's from the
        # socket), then its picture, without a reload.
        image = f"{frame} img.frame-img[data-take]"
        for page in (dana, arti):
            page.wait_for_function("Object.keys(window.__bars).length > 0")
            img = page.wait_for_selector(image)
            assert "/media/" in img.get_attribute("src")
            # The picture itself loads: the media view lets both members see it.
            page.wait_for_function(
                "sel => { const i = document.querySelector(sel); return i && i.complete && i.naturalWidth > 0; }",
                arg=image,
            )
            assert page.locator(f"{frame} .overlay").count() == 0
        take_id = dana.get_attribute(image, "data-take")
        assert arti.get_attribute(image, "data-take") == take_id
        for page in (dana, arti):
            assert f"take-{take_id}-bar" in page.evaluate("window.__bars")
        # The worker's step events moved Arti's bar: progress is live, not just Queued then done.
        assert arti.evaluate("window.__bars")[f"take-{take_id}-bar"] > 0
        assert dana.locator(f"{frame} .thumb.on").count() == 1

        comment = "Push in slower; hold on the neon sign."
        box = f"#panel-{panel.id} details.comments-box"
        if not arti.locator(box).evaluate("d => d.open"):
            arti.click(f"{box} summary")
        arti.fill(f"{box} [data-comment]", comment)
        arti.click(f"{box} .comment-form button")
        comments = f"#panel-{panel.id}-comments"
        posted = f"{comments} li:has-text('{comment}')"
        arti.wait_for_selector(posted)
        # On Dana's page the comment arrives over the socket into the comments box.
        dana.wait_for_selector(posted, state="attached")
        if not dana.locator(box).evaluate("d => d.open"):
            dana.click(f"{box} summary")
        assert "arti" in dana.inner_text(posted)
        wait_for(
            lambda: arti.input_value(f"{box} [data-comment]") == "",
            timeout=10,
            message="the comment box to clear",
        )

        for page in (dana, arti):
            assert_not_reloaded(page)


def test_keyboard_edit_shows_on_the_other_page(processes, project, storyboard, panel):
    host = processes.studio()
    with chromium() as browser, diagnostics(processes, browser):
        dana = open_board(browser, host, "dana", storyboard.id)
        arti = open_board(browser, host, "arti", storyboard.id)

        dana.focus(f"#panel-{panel.id}")
        dana.keyboard.press("e")
        dana.wait_for_selector("#editor[open] textarea[name=prompt]")
        new_prompt = "a diner at night, rain on the window, a lone waitress"
        dana.fill("#editor textarea[name=prompt]", new_prompt)
        dana.click("#editor .edit-form button.primary")
        dana.wait_for_selector("#editor", state="hidden")  # panel-saved closes the dialog

        prompt = f"#panel-{panel.id}-meta .prompt"
        for page in (dana, arti):
            page.wait_for_selector(f"{prompt}:has-text('{new_prompt}')")
            assert_not_reloaded(page)


def test_added_and_moved_panels_show_once_and_in_order_everywhere(
    processes, project, storyboard, panel
):
    host = processes.studio()
    with chromium() as browser, diagnostics(processes, browser):
        dana = open_board(browser, host, "dana", storyboard.id)
        arti = open_board(browser, host, "arti", storyboard.id)
        dana.fill(".add-panel textarea", "the getaway car, headlights off")
        dana.click(".add-panel button.primary")
        order = "Array.from(document.querySelectorAll('#panels > article.panel')).map(p => p.id)"
        # Dana's page gets the card twice (her answer and the socket): it holds it once.
        for page in (dana, arti):
            page.wait_for_function(f"{order}.length === 2")
        new_id = dana.evaluate(order)[1]
        assert arti.evaluate(order) == [f"panel-{panel.id}", new_id]
        dana.focus(f"#{new_id}")
        dana.keyboard.press("[")  # move it earlier
        for page in (dana, arti):
            page.wait_for_function(f"{order}[0] === '{new_id}'")
            assert page.evaluate(order) == [new_id, f"panel-{panel.id}"]
            # Numbers and the ends of the row come from the order (CSS): no script renumbers.
            first_earlier = f"getComputedStyle(document.querySelector('#{new_id} [data-move=\"-1\"]')).pointerEvents"
            assert page.evaluate(first_earlier) == "none"
            assert_not_reloaded(page)


def test_a_long_board_hydrates_cards_as_they_come_into_view(processes, project, storyboard, dana):
    from storyboards import services as boards
    from storyboards.presenters import FULL_CARDS

    shots = [
        boards.panel_create(storyboard=storyboard, user=dana, prompt=f"shot {i}")
        for i in range(FULL_CARDS + 6)
    ]
    host = processes.studio()
    with chromium() as browser, diagnostics(processes, browser):
        page = open_board(browser, host, "dana", storyboard.id)
        last = f"#panel-{shots[-1].id}"
        assert page.locator(f"{last}.light").count() == 1
        page.locator(last).scroll_into_view_if_needed()
        page.wait_for_selector(f"{last} [data-generate]")  # a full card now, in the same place
        assert page.locator(f"{last}.light").count() == 0
        assert page.evaluate("document.querySelectorAll('#panels > article.panel').length") == len(
            shots
        )
        assert_not_reloaded(page)


def test_a_refusal_shows_escaped_where_the_person_looks(processes, project, storyboard, panel):
    """Finding 6 of the hardening issue: an error carrying the input must never run it."""
    host = processes.studio()
    with chromium() as browser, diagnostics(processes, browser):
        page = open_board(browser, host, "dana", storyboard.id)
        page.evaluate("window.__xss = 0")
        attack = "<img src=x onerror=window.__xss=1>"
        page.evaluate(
            "value => { const s = document.querySelector('.add-panel select[name=shot_type]');"
            " s.add(new Option(value, value)); s.value = value; }",
            attack,
        )
        page.fill(".add-panel textarea", "a shot with a bad type")
        page.click(".add-panel button.primary")
        notice = page.wait_for_selector("#board-notice .notice.error")
        assert "is not a valid choice" in notice.inner_text() and attack in notice.inner_text()
        assert page.evaluate("window.__xss") == 0 and page.locator("#board-notice img").count() == 0
        assert page.evaluate("document.querySelectorAll('#panels > article.panel').length") == 1
        page.console_errors = [
            e for e in page.console_errors if "422" not in e
        ]  # the refusal itself
        assert_not_reloaded(page)


def test_generate_all_asks_shows_the_run_everywhere_and_cancels_all(
    processes, project, storyboard, panel, dana
):
    from storyboards import services as boards

    boards.panel_create(storyboard=storyboard, user=dana, prompt="the getaway car")
    host = processes.studio()  # no worker: the run stays queued while we look at it
    with chromium() as browser, diagnostics(processes, browser):
        dana_page = open_board(browser, host, "dana", storyboard.id)
        arti_page = open_board(browser, host, "arti", storyboard.id)
        asked = []
        dana_page.on("dialog", lambda d: (asked.append(d.message), d.accept()))
        dana_page.click("text=Generate all panels")
        for page in (dana_page, arti_page):
            page.wait_for_selector("#board-bulk progress")
            assert "0 of 2" in page.inner_text("#board-bulk")
        assert "every panel with a prompt" in asked[0]
        dana_page.click("#board-bulk button")  # Cancel all, confirmed
        for page in (dana_page, arti_page):
            page.wait_for_function("document.querySelector('#board-bulk').children.length === 0")
            assert page.locator(".frame .overlay").count() == 0
        assert "Cancel the 2 takes" in asked[1]
        for page in (dana_page, arti_page):
            assert_not_reloaded(page)


def test_a_page_that_missed_events_catches_up_by_itself(processes, project, storyboard, panel):
    import redis
    from django.conf import settings

    from storyboards import services as boards
    from studio import events

    host = processes.studio()
    daphne = processes.procs[0]
    with chromium() as browser, diagnostics(processes, browser):
        page = open_board(browser, host, "dana", storyboard.id)
        # Cut the studio's Redis connection: its sockets close (4012) and the page says so.
        r = redis.Redis.from_url(settings.REDIS_URL)
        for client in r.client_list():
            if client.get("name") == f"slate-hub-{daphne.pid}":
                r.client_kill_filter(_id=client["id"])
        page.wait_for_function("window.__socketDrops >= 1")  # closed with 4012: reconnecting
        # Said while the page's socket was down: that page never hears it.
        comment = boards.comment_add(panel=panel, author=project.created_by, body="Missed it?")
        events.flush()
        page.wait_for_selector(f"#comment-{comment.id}", state="attached")
        page.wait_for_selector("#live-status.on")
        assert page.evaluate("window.__socketDrops") >= 1
        assert page.evaluate("window.__marker") == 1 and page.evaluate("window.__errors") == []
        assert page.console_errors == []
        # Back in step: the next event applies directly.
        later = boards.comment_add(panel=panel, author=project.created_by, body="And this?")
        page.wait_for_selector(f"#comment-{later.id}", state="attached")
        assert page.locator(f"#panel-{panel.id}-comments li").count() == 2


def test_inpaint_a_painted_region_in_the_browser(processes, project, storyboard, panel, dana):
    from generation import services as takes
    from generation.models import Take

    host = processes.studio()
    processes.worker()
    first = takes.take_request(panel=panel, author=dana, seed=3)
    wait_for(lambda: Take.objects.filter(pk=first.pk, status="succeeded").exists(), timeout=90)
    with chromium() as browser, diagnostics(processes, browser):
        page = open_board(browser, host, "dana", storyboard.id)
        card = f"#panel-{panel.id}"
        page.wait_for_selector(f"{card} .frame-img[data-take='{first.id}']")
        page.select_option(f"{card} [data-tool-select]", "inpaint")
        page.click(f"{card} [data-generate]")
        page.wait_for_selector("#painter[open] #paint-canvas")
        box = page.locator("#paint-canvas").bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.5, steps=8)
        page.mouse.up()
        page.click("#paint-go")

        inpainted = wait_for(
            lambda: Take.objects.filter(panel=panel, tool="inpaint", status="succeeded").first(),
            timeout=90,
            message="the inpainted take",
        )
        assert inpainted.parent_id == first.id and inpainted.mask
        page.wait_for_selector(f"{card} .frame-img[data-take='{inpainted.id}']")
        assert_not_reloaded(page)


# --- the README's screenshot ---------------------------------------------------------------

SCREENSHOT = ROOT / "docs" / "screenshot.png"
SCENE = [
    {
        "shot_type": "ews",
        "camera_move": "crane",
        "duration_ms": 5000,
        "prompt": "EXT. ROUTE 9 DINER - NIGHT. A lonely roadside diner under a buzzing neon sign, "
        "rain sheeting across the empty lot, 1970s Americana, anamorphic",
        "action": "A single pair of headlights turns in off the highway.",
        "notes": "Hold on the sign flicker before the car enters.",
    },
    {
        "shot_type": "ms",
        "camera_move": "dolly",
        "duration_ms": 4000,
        "prompt": "INT. DINER. MARA (40s, waitress) behind the counter refilling a coffee nobody "
        "ordered, warm tungsten light, rain on the windows",
        "action": "The bell over the door rings. She doesn't look up.",
        "dialogue": "Kitchen's closed. Coffee's still hot.",
    },
    {
        "shot_type": "insert",
        "camera_move": "static",
        "duration_ms": 2000,
        "prompt": "Insert: a wet motel key tag slides across the formica counter, ROOM 14, "
        "shallow focus, neon reflections",
        "dialogue": "JACK (O.S.): I'm not here for coffee.",
    },
    {
        "shot_type": "ots",
        "camera_move": "steadicam",
        "duration_ms": 3000,
        "prompt": "Over Jack's shoulder: Mara looks up from the key as headlights sweep across "
        "her face through the blinds",
        "dialogue": "Then you're ten years late.",
    },
]
FRAME = {"width": 152, "height": 64}  # 2.39:1 on the 8 px grid


@pytest.mark.skipif(
    not os.environ.get("SLATE_SCREENSHOT"),
    reason="regenerates docs/screenshot.png: SLATE_SCREENSHOT=1 (or python bench/screenshot.py)",
)
def test_readme_screenshot(processes, project, dana, arti, vic):
    from generation import services as takes
    from generation.models import Status, Take
    from storyboards import services as boards

    board = boards.storyboard_create(project=project, user=dana, title="Sc. 12 — Route 9 Diner")
    panels = [
        boards.panel_create(storyboard=board, user=dana, aspect_ratio="2.39:1", **fields)
        for fields in SCENE
    ]
    boards.comment_add(
        panel=panels[0], author=vic, body="Love the sign. Can we hear it buzz before we see it?"
    )
    boards.comment_add(
        panel=panels[0], author=arti, body="Second take has the better sky; keeping it."
    )
    boards.comment_add(
        panel=panels[2], author=dana, body="Make the tag readable: it pays off in Sc. 30."
    )
    host = processes.studio()
    processes.worker()
    with diagnostics(processes):
        done = [
            takes.take_request(panel=panels[0], author=dana, seed=7, **FRAME),
            takes.take_request(panel=panels[0], author=arti, seed=11, **FRAME),
            takes.take_request(panel=panels[1], author=dana, seed=23, **FRAME),
            takes.take_request(panel=panels[2], author=arti, seed=42, **FRAME),
        ]
        ids = [t.id for t in done]
        wait_for(
            lambda: Take.objects.filter(pk__in=ids, status=Status.SUCCEEDED).count() == len(ids),
            timeout=300,
            interval=0.5,
            message="the first takes",
        )
        # One take still forming when the picture is taken: many steps at a larger size.
        takes.take_request(panel=panels[3], author=dana, seed=5, steps=36, width=256, height=104)
        with chromium() as browser:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            page.goto(f"http://{host}/login/?next=/storyboards/{board.id}/")
            page.fill("input[name=username]", "dana")
            page.fill("input[name=password]", "dana-secret-pw")
            page.click(".auth-card button.primary")
            page.wait_for_selector("#live-status.on")
            bar = f"#panel-{panels[3].id}-frame .bar"
            page.wait_for_function(
                "([bar, img]) => { const b = document.querySelector(bar), i = document.querySelector(img);"
                " return b && +b.getAttribute('aria-valuenow') >= 30 && i && i.src.startsWith('data:image/jpeg'); }",
                arg=[bar, f"#panel-{panels[3].id}-preview"],
                timeout=300_000,
            )
            page.wait_for_function("Array.from(document.images).every(i => i.complete)")
            page.mouse.move(0, 0)
            png = page.screenshot()
    save_small_png(png, SCREENSHOT)


def save_small_png(png: bytes, path, limit=480_000):
    """The README's picture stays under half a megabyte: noise takes barely compress, so a full
    colour PNG over the limit becomes a 256-colour one (no dithering: text stays crisp)."""
    import io

    from PIL import Image

    path.parent.mkdir(exist_ok=True)
    if len(png) > limit:
        image = Image.open(io.BytesIO(png)).convert("RGB")
        image = image.quantize(
            colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
        png = buffer.getvalue()
    path.write_bytes(png)
