"""The inpaint mask painter on its own, in Debian's Chromium through Playwright.

The page is built here from the real files (templates/storyboards/_painter.html, painter.css,
painter.js and slate.css's variables), so these tests hold the painter to its contract,
`SlatePainter.open(src)`, whatever the storyboard page around it looks like. The takes are
data: URL PNGs of a few shapes (wide, scope, square, tall), small so every mask pixel is checked.
"""

import base64
import io

import pytest
from django.template.loader import render_to_string
from PIL import Image

from tests.conftest import ROOT
from tests.test_browser import TIMEOUT_MS, chromium

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
WIDE, SCOPE, SQUARE, TALL = (96, 54), (239, 100), (64, 64), (54, 96)
BRUSH = 32  # the size slider's starting value, in screen pixels


def take_png(width: int, height: int) -> str:
    """A take as a data: URL: a gradient, so the picture under the paint is easy to see."""
    image = Image.new("RGB", (width, height))
    image.putdata(
        [(x * 255 // width, y * 255 // height, 140) for y in range(height) for x in range(width)]
    )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def painter_html() -> str:
    css = "".join(
        f"<style>{(ROOT / 'static' / 'css' / name).read_text()}</style>"
        for name in ("slate.css", "painter.css")
    )
    script = (ROOT / "static" / "js" / "painter.js").read_text()
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Painter</title>{css}</head><body><main class='page'><h1>A storyboard</h1></main>"
        f"{render_to_string('storyboards/_painter.html')}<script>{script}</script></body></html>"
    )


class Painter:
    """One page holding the painter, and what a person does with it."""

    def __init__(self, page):
        self.page = page

    def open(self, size: tuple[int, int]):
        self.page.evaluate(
            """src => {
                window.__mask = undefined;
                SlatePainter.open(src).then(
                    (mask) => { window.__mask = mask; },
                    (error) => { window.__mask = "failed: " + error.message; });
            }""",
            take_png(*size),
        )
        self.page.wait_for_selector("#painter[open]")

    def result(self):
        self.page.wait_for_function("window.__mask !== undefined")
        return self.page.evaluate("window.__mask")

    def inpaint(self) -> Image.Image:
        self.page.click("#painter-go")
        url = self.result()
        assert url.startswith("data:image/png;base64,"), url
        return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))

    def box(self, selector="#painter-canvas") -> dict:
        return self.page.locator(selector).bounding_box()

    def at(self, fx: float, fy: float) -> tuple[float, float]:
        """Screen coordinates of a point given as fractions of the displayed take."""
        box = self.box()
        return box["x"] + box["width"] * fx, box["y"] + box["height"] * fy

    def drag(self, start, end):
        mouse = self.page.mouse
        mouse.move(*self.at(*start))
        mouse.down()
        mouse.move(*self.at(*end), steps=12)
        mouse.up()

    def tap(self, fx, fy):
        self.page.mouse.click(*self.at(fx, fy))

    def go_enabled(self) -> bool:
        return self.page.locator("#painter-go").is_enabled()


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def open_painter(browser):
    """A painter page at a viewport; any console error or page error fails the test."""
    contexts, errors = [], []

    def open_page(viewport=DESKTOP, **options) -> Painter:
        context = browser.new_context(viewport=viewport, **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_content(painter_html())
        return Painter(page)

    yield open_page
    for context in contexts:
        context.close()
    assert errors == []


def grey(mask: Image.Image, fx: float, fy: float) -> int:
    return mask.getpixel((int(mask.width * fx), int(mask.height * fy)))


def as_grey(mask: Image.Image) -> Image.Image:
    """The mask is opaque black and white: its alpha, if it has one, is 255 everywhere."""
    assert mask.mode in ("L", "RGB", "RGBA"), mask.mode
    if mask.mode == "RGBA":
        assert mask.getchannel("A").getextrema() == (255, 255)
    return mask.convert("L")


def test_the_displayed_take_keeps_its_aspect_ratio(open_painter):
    painter = open_painter()
    for width, height in (WIDE, SCOPE, SQUARE, TALL):
        painter.open((width, height))
        canvas, picture = painter.box(), painter.box("#painter-img")
        assert canvas["width"] / canvas["height"] == pytest.approx(width / height, rel=0.01)
        edges = ("x", "y", "width", "height")
        assert [canvas[k] for k in edges] == pytest.approx([picture[k] for k in edges], abs=0.5)
        # As big as fits in ~90vw x 70vh, and painted in the take's own pixels.
        assert canvas["width"] <= 0.9 * DESKTOP["width"] + 1
        assert canvas["height"] <= 0.7 * DESKTOP["height"] + 1
        assert (
            canvas["width"] >= 0.85 * DESKTOP["width"]
            or canvas["height"] >= 0.6 * DESKTOP["height"]
        )
        assert painter.page.evaluate(
            "[document.querySelector('#painter-canvas').width, document.querySelector('#painter-canvas').height]"
        ) == [width, height]
        painter.page.click("#painter-cancel")
        assert painter.result() is None


def test_a_stroke_is_white_in_a_mask_at_the_takes_size(open_painter):
    painter = open_painter()
    for width, height in (WIDE, TALL):
        painter.open((width, height))
        assert not painter.go_enabled()  # nothing painted: nothing to inpaint
        painter.drag((0.2, 0.25), (0.6, 0.25))
        assert painter.go_enabled()
        # The brush circle follows the mouse at the brush's size.
        cursor = painter.box(".painter-cursor")
        assert cursor["width"] == pytest.approx(BRUSH, abs=2)
        shown_height = painter.box()["height"]

        mask = as_grey(painter.inpaint())
        assert mask.size == (width, height)
        assert painter.page.locator("#painter[open]").count() == 0
        assert grey(mask, 0.4, 0.25) >= 250
        assert grey(mask, 0.4, 0.75) == 0 and grey(mask, 0.8, 0.25) == 0
        # The stroke is as thick as the brush looked on screen, in the take's pixels.
        column = int(width * 0.4)
        thick = sum(1 for y in range(height) if mask.getpixel((column, y)) > 127)
        assert thick == pytest.approx(BRUSH * height / shown_height, abs=1.5)
        # Nothing outside the stroke's band is painted.
        band = range(int(height * 0.25 - thick), int(height * 0.25 + thick) + 1)
        assert all(
            mask.getpixel((x, y)) == 0 for y in range(height) if y not in band for x in range(width)
        )


def test_the_eraser_paints_black_back(open_painter):
    painter = open_painter()
    page = painter.page
    painter.open(WIDE)
    painter.drag((0.1, 0.5), (0.9, 0.5))
    page.keyboard.press("e")
    assert page.get_attribute("[data-painter-mode=eraser]", "aria-pressed") == "true"
    assert page.get_attribute("[data-painter-mode=brush]", "aria-pressed") == "false"
    for _ in range(5):
        page.keyboard.press("]")
    assert page.input_value("#painter-size") == str(BRUSH + 20)
    assert page.inner_text("#painter-size-value") == str(BRUSH + 20)
    painter.drag((0.55, 0.5), (0.98, 0.5))
    mask = as_grey(painter.inpaint())
    assert grey(mask, 0.3, 0.5) >= 250
    assert grey(mask, 0.75, 0.5) == 0 and grey(mask, 0.9, 0.5) == 0

    # Erasing all the paint leaves nothing to inpaint; undo brings it back.
    painter.open(WIDE)
    assert page.get_attribute("[data-painter-mode=brush]", "aria-pressed") == "true"
    painter.tap(0.5, 0.5)
    page.click("[data-painter-mode=eraser]")
    page.keyboard.press("]")
    painter.tap(0.5, 0.5)
    assert not painter.go_enabled()
    page.keyboard.press("Control+z")
    assert painter.go_enabled()
    page.keyboard.press("b")
    assert page.get_attribute("[data-painter-mode=brush]", "aria-pressed") == "true"
    page.keyboard.press("[")  # the size stays what the person chose last time: 56, now 52
    assert page.input_value("#painter-size") == str(BRUSH + 20)
    assert grey(as_grey(painter.inpaint()), 0.5, 0.5) >= 250


def test_undo_steps_back_a_stroke_at_a_time_and_clear_is_undoable(open_painter):
    painter = open_painter()
    page = painter.page
    painter.open(SCOPE)
    assert page.locator("#painter-undo").is_disabled()
    painter.drag((0.1, 0.2), (0.9, 0.2))
    dots = [(0.05 + 0.045 * i, 0.7) for i in range(20)]
    for dot in dots:
        painter.tap(*dot)
    page.click("#painter-clear")
    assert not painter.go_enabled()
    page.click("#painter-undo")  # the clear
    assert painter.go_enabled()
    # Twenty more levels: every dot, newest first, by key and by button.
    for i in range(len(dots)):
        if i % 2:
            page.click("#painter-undo")
        else:
            page.keyboard.press("Control+z")
    assert page.locator("#painter-undo").is_enabled()  # the line is still there to undo
    mask = as_grey(painter.inpaint())
    assert grey(mask, 0.5, 0.2) >= 250
    assert all(grey(mask, *dot) == 0 for dot in dots)


def test_cancel_esc_and_closing_answer_null(open_painter):
    painter = open_painter()
    painter.open(WIDE)
    painter.drag((0.2, 0.5), (0.6, 0.5))
    painter.page.click("#painter-cancel")
    assert painter.result() is None

    painter.open(WIDE)
    painter.drag((0.2, 0.5), (0.6, 0.5))
    painter.page.keyboard.press("Escape")
    assert painter.result() is None
    assert painter.page.locator("#painter[open]").count() == 0

    painter.open(WIDE)
    painter.page.evaluate("document.getElementById('painter').close()")
    assert painter.result() is None

    # Opening again while open answers the first caller with null and shows the new take.
    painter.open(WIDE)
    painter.open(TALL)
    assert painter.page.evaluate("document.getElementById('painter-canvas').height") == TALL[1]
    assert painter.page.locator("#painter[open]").count() == 1
    painter.tap(0.5, 0.5)
    assert painter.inpaint().size == TALL


def test_it_fits_a_phone_and_paints_by_touch(open_painter):
    painter = open_painter(PHONE, is_mobile=True, has_touch=True, device_scale_factor=3)
    page = painter.page
    for size in (WIDE, SCOPE, TALL):
        painter.open(size)
        assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
        assert page.evaluate(
            "(() => { const d = document.getElementById('painter'); return d.scrollWidth <= d.clientWidth; })()"
        )
        dialog = painter.box("#painter")
        assert dialog["x"] == pytest.approx(0, abs=1)
        assert dialog["width"] == pytest.approx(PHONE["width"], abs=1)
        controls = page.locator(
            "#painter button, #painter input, #painter output, #painter-canvas"
        ).all()
        assert len(controls) == 9
        for control in controls:
            box = control.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], control
            assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], control
        canvas = painter.box()
        assert canvas["width"] / canvas["height"] == pytest.approx(size[0] / size[1], rel=0.01)
        page.click("#painter-cancel")
        assert painter.result() is None

    painter.open(WIDE)
    assert (
        page.evaluate("getComputedStyle(document.getElementById('painter-canvas')).touchAction")
        == "none"
    )
    # A finger drawn across the take paints it; the page does not scroll under it.
    (x0, y), (x1, _) = painter.at(0.2, 0.5), painter.at(0.8, 0.5)
    touch = page.context.new_cdp_session(page)
    touch.send(
        "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x0, "y": y}]}
    )
    for i in range(1, 13):
        x = x0 + (x1 - x0) * i / 12
        touch.send(
            "Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]}
        )
    touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    assert page.evaluate("[scrollX, scrollY]") == [0, 0]
    mask = as_grey(painter.inpaint())
    assert grey(mask, 0.3, 0.5) >= 250 and grey(mask, 0.7, 0.5) >= 250
    assert grey(mask, 0.5, 0.1) == 0
