"""Review mode and review comments in a real browser (Chromium, a real studio process): the
board played for each panel's duration, a pin drawn on the frame, @mention autocomplete, a
reply arriving live on another page, and who is on the board."""

import pytest
from django.core.files.base import ContentFile

from generation.models import Take
from storyboards import services as boards
from storyboards.models import Comment
from tests.test_browser import assert_not_reloaded, chromium, diagnostics, open_board

pytestmark = pytest.mark.browser


@pytest.fixture
def browser():
    with chromium() as browser:
        yield browser


def png(colour) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 36), colour).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def reel(storyboard, panel, dana):
    """Three short panels, each with a real picture on the board."""
    panels = [panel] + [
        boards.panel_create(storyboard=storyboard, user=dana, prompt=p) for p in "bc"
    ]
    for i, p in enumerate(panels):
        boards.panel_update(panel=p, duration_ms=700, dialogue="MARA\nRun." if i == 1 else "")
        take = Take.objects.create(panel=p, author=dana, model_key="tiny", seed=i, steps=2,
                                   guidance=1.0, width=64, height=36, status="succeeded", progress=1.0)  # fmt: skip
        take.image.save(f"p/reel-{i}.png", ContentFile(png((40 * i, 60, 90))), save=True)
        boards.panel_update(panel=p, selected_take=take.id)
    return panels


def test_review_mode_plays_pins_mentions_and_replies_live(
    browser, processes, storyboard, reel, dana, arti
):
    host = processes.studio()
    with diagnostics(processes, browser):
        dana_page = open_board(browser, host, "dana", storyboard.id)
        arti_page = open_board(browser, host, "arti", storyboard.id)
        # Presence: each sees the other; the panel arti opens shows dana's page his avatar.
        dana_page.wait_for_selector(f"#board-presence li[data-user='{arti.pk}']")
        arti_page.click(f"#panel-{reel[1].id}")
        dana_page.wait_for_selector(
            f"#panel-{reel[1].id} .presence-marks li[data-user='{arti.pk}']"
        )

        dana_page.keyboard.press("r")
        dana_page.wait_for_selector("#review:not([hidden])")
        pos = dana_page.locator("[data-review-pos]")
        assert pos.text_content() == "Panel 1 of 3"
        dana_page.keyboard.press("ArrowRight")
        assert pos.text_content() == "Panel 2 of 3"
        assert dana_page.locator("[data-review-caption]").text_content() == "MARA  Run."
        dana_page.keyboard.press("ArrowLeft")
        # Space plays: 0.7 s a panel, then it stops on the last one.
        dana_page.keyboard.press(" ")
        dana_page.wait_for_function(
            "document.querySelector('[data-review-pos]').textContent === 'Panel 2 of 3'",
            timeout=3000,
        )
        dana_page.wait_for_function(
            "document.querySelector('[data-review-pos]').textContent === 'Panel 3 of 3'",
            timeout=3000,
        )
        dana_page.wait_for_selector("[data-review-play][aria-pressed='false']", timeout=3000)
        assert arti_page.wait_for_selector(
            f"#panel-{reel[2].id} .presence-marks li[data-user='{dana.pk}']"
        )

        # A pin: p, drag an area on the frame, write with an @mention chosen from the list.
        dana_page.wait_for_selector(f"#review-side .review-side-body[data-panel='{reel[2].id}']")
        dana_page.keyboard.press("p")
        box = dana_page.locator("[data-review-img]").bounding_box()
        mouse = dana_page.mouse
        mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.25)
        mouse.down()
        mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.5, steps=6)
        mouse.up()
        dana_page.keyboard.type("Lower the horizon @ar")
        dana_page.wait_for_selector("#mention-menu li[data-username='arti']")
        dana_page.keyboard.press("Enter")
        dana_page.keyboard.press("Control+Enter")
        dana_page.wait_for_selector("[data-pins] .pin.area")
        comment = Comment.objects.get()
        assert comment.body == "Lower the horizon @arti"
        assert (round(comment.pin_x, 2), round(comment.pin_y, 2)) == (0.25, 0.25)
        assert (round(comment.pin_w, 2), round(comment.pin_h, 2)) == (0.5, 0.25)
        assert comment.take_id == reel[2].selected_take_id
        assert [u.username for u in comment.mentions.all()] == ["arti"]

        # Arti's inbox counts it; his reply reaches dana's review side live, inside the thread.
        arti_page.reload()
        arti_page.wait_for_selector(".inbox-link .badge")
        arti_page.click(f"#panel-{reel[2].id}")
        arti_page.wait_for_selector(f"#comment-{comment.id} [data-reply]").click()
        arti_page.fill("#inspector [data-comment]", "Done in the next take")
        arti_page.keyboard.press("Control+Enter")
        dana_page.wait_for_selector(
            f"#comment-{comment.id}-replies li:has-text('Done in the next take')"
        )
        dana_page.keyboard.press("Escape")
        dana_page.wait_for_selector("#review", state="hidden")
        assert_not_reloaded(dana_page)
