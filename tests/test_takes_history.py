"""Takes history: every take of a panel with its lineage (variations, inpaints and upscales under
the take they grew from), two takes compared one over the other, a take's settings recalled."""

import json
import re

import pytest
from django.core.files.base import ContentFile
from django.test import Client

from generation import services as takes
from generation.models import Take
from storyboards import services as boards
from storyboards.models import StylePreset
from studio import events
from tests.test_board import finished_take as board_take
from tests.test_browser import browser, chromium_for_module  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def page(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def finished_take(panel, author, name: str, **fields) -> Take:
    """test_board's finished take, sent the panel's prompt."""
    return board_take(panel, author, name, **{"prompt": panel.prompt, **fields})


def rows_of(html: str) -> list[tuple[int, int]]:
    """(take id, depth) of each row of the takes list, in order."""
    found = re.findall(
        r'<li id="take-(\d+)-row" class="[^"]*" data-take="\d+" data-depth="(\d+)"', html
    )
    return [(int(take), int(depth)) for take, depth in found]


def row(html: str, take: Take) -> str:
    return re.search(rf'id="take-{take.id}-row".*?</li>', html, re.S).group(0)


def inspector(user, panel) -> str:
    response = page(user).get(f"/panels/{panel.id}/inspector/")
    assert response.status_code == 200
    return response.content.decode()


# --- lineage ---------------------------------------------------------------------------------


@pytest.fixture
def family(panel, dana, arti):
    """first ─┬─ varied ── upscaled        (oldest first; `later` stands alone)
    └─ inpainted"""
    first = finished_take(panel, dana, "first")
    varied = finished_take(panel, arti, "varied", tool="variation", parent=first, strength=0.6)
    upscaled = finished_take(panel, arti, "upscaled", tool="upscale", parent=varied, scale=2,
                             width=128, height=128)  # fmt: skip
    inpainted = finished_take(panel, dana, "inpainted", tool="inpaint", parent=first)
    later = finished_take(panel, dana, "later", seed=9)
    return {"first": first, "varied": varied, "upscaled": upscaled, "inpainted": inpainted,
            "later": later}  # fmt: skip


def test_children_sit_under_their_parent_newest_first(dana, panel, family):
    html = inspector(dana, panel)
    f = family
    assert rows_of(html) == [
        (f["later"].id, 0), (f["first"].id, 0), (f["inpainted"].id, 1), (f["varied"].id, 1),
        (f["upscaled"].id, 2),
    ]  # fmt: skip
    upscaled = row(html, f["upscaled"])
    assert f'data-take-jump="{f["varied"].id}"' in upscaled
    assert f"from take {f['varied'].id}</a>" in upscaled and "Upscale" in upscaled
    assert "2 takes from this one" in row(html, f["first"])
    assert "from take" not in row(html, f["later"])


def test_a_take_whose_parent_was_deleted_says_so(dana, panel, family):
    Take.objects.filter(pk=family["varied"].pk).delete()  # its upscale loses its parent
    html = inspector(dana, panel)
    upscaled = row(html, family["upscaled"])
    assert "from a take since deleted" in upscaled and "data-take-jump" not in upscaled
    assert (family["upscaled"].id, 0) in rows_of(html)  # a root now
    assert "since deleted" not in row(html, family["later"])  # text to image needs no parent


def test_a_duplicated_panels_take_comes_from_another_panel(dana, storyboard, panel, family):
    boards.panel_update(panel=panel, selected_take=family["first"].id)
    copy = boards.panel_duplicate(panel=panel, user=dana)
    html = inspector(dana, copy)
    assert f"from take {family['first'].id}, on another panel" in html


def test_a_retry_names_the_take_it_retries(dana, panel, family):
    failed = Take.objects.create(panel=panel, author=dana, model_key="tiny", seed=4, steps=2,
                                 guidance=1.0, width=64, height=64, status="failed",
                                 tool="variation", parent=family["first"])  # fmt: skip
    retry = takes.take_retry(take=failed, author=dana)
    html = inspector(dana, panel)
    assert f"retry of take {failed.id}" in row(html, retry)
    assert rows_of(html).index((retry.id, 1)) < rows_of(html).index((failed.id, 1))


def test_the_takes_list_takes_the_same_queries_for_a_few_takes_or_many(
    dana, panel, family, django_assert_num_queries
):
    from storyboards.presenters import render_takes

    with django_assert_num_queries(2):  # the panel, and every take of it with its author
        few = render_takes([{"panel": panel.id}])[panel.id]["edit"]
    parent = family["upscaled"]
    for i in range(40):  # a long chain and many siblings
        parent = finished_take(panel, dana, f"more{i}", tool="inpaint",
                               parent=parent if i % 2 else family["first"])  # fmt: skip
    with django_assert_num_queries(2):
        many = render_takes([{"panel": panel.id}])[panel.id]["edit"]
    assert len(rows_of(few)) == 5 and len(rows_of(many)) == 45


def test_every_take_row_offers_compare_and_editors_recall(dana, vic, panel, family):
    boards.panel_update(panel=panel, selected_take=family["first"].id)
    html = inspector(dana, panel)
    later = row(html, family["later"])
    assert f'data-compare-pair="{family["first"].id} {family["later"].id}"' in later
    assert f'data-compare="{family["later"].id}"' in later
    assert f"/takes/{family['later'].id}/recall/" in later
    read_only = row(inspector(vic, panel), family["later"])
    assert "data-compare=" in read_only and "/recall/" not in read_only


# --- compare ---------------------------------------------------------------------------------


def compare(user, a, b):
    return page(user).get("/takes/compare/", {"a": a, "b": b})


def test_compare_lists_both_takes_and_marks_what_differs(dana, panel, family):
    a = family["first"]
    b = finished_take(panel, dana, "b", seed=77, prompt=a.prompt + ", neon sign", steps=2)
    response = compare(dana, a.id, b.id)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="slider"' in html and 'aria-valuenow="50"' in html
    rows = re.findall(r'<tr( class="differs")?>\s*<th scope="row">([^<]+)', html)
    assert {label.strip() for mark, label in rows if mark} == {"Prompt as sent", "Seed"}
    assert {"Model", "Steps", "Size", "Tool"} <= {label.strip() for _, label in rows}
    assert re.search(r"<mark>[^<]*neon sign</mark>", html)  # the words only b has
    assert "<mark>a diner" not in html  # the words both have are not marked
    assert "2 differences" in html
    assert f'src="/media/{a.image.name}"' in html and f'src="/media/{b.image.name}"' in html


def test_compare_shows_lineage_and_tool(dana, panel, family):
    html = compare(dana, family["first"].id, family["upscaled"].id).content.decode()
    for label in ("Tool", "Size", "Scale", "From take"):
        assert re.search(rf'<tr class="differs">\s*<th scope="row">{label}', html), label
    assert f"<td>{family['varied'].id}</td>" in html


def test_compare_refuses_outsiders_and_takes_of_two_projects(dana, olga, vic, panel, family):
    a, b = family["first"].id, family["later"].id
    assert compare(olga, a, b).status_code == 404
    assert compare(vic, a, b).status_code == 200  # viewers read takes
    elsewhere = boards.project_create(user=dana, name="Other film")
    board = boards.storyboard_create(project=elsewhere, user=dana, title="B")
    theirs = finished_take(boards.panel_create(storyboard=board, user=dana, prompt="x"), dana, "o")
    assert compare(dana, a, theirs.id).status_code == 404  # a member of both, still two projects
    assert compare(vic, a, theirs.id).status_code == 404
    assert compare(dana, a, 999_999).status_code == 404


def test_compare_answers_bad_input_in_words(dana, panel, family):
    a = family["first"].id
    assert compare(dana, a, a).status_code == 422
    assert compare(dana, a, "x").status_code == 422
    assert page(dana).get("/takes/compare/", {"a": a}).status_code == 422
    queued = Take.objects.create(panel=panel, author=dana, model_key="tiny", seed=1, steps=2,
                                 guidance=1.0, width=64, height=64)  # fmt: skip
    refused = compare(dana, a, queued.id)
    assert refused.status_code == 409 and b"no picture" in refused.content


# --- recall ----------------------------------------------------------------------------------


@pytest.fixture
def recalled_take(project, storyboard, panel, dana):
    """A take requested from the panel as it was (style with a negative prompt, a shot, a
    camera move); the panel has changed since."""
    style = StylePreset.objects.create(project=project, name="Noir", prompt="film noir",
                                       negative_prompt="colour")  # fmt: skip
    boards.panel_update(panel=panel, negative_prompt="people", shot_type="cu",
                        camera_move="dolly", style_preset=style.id)  # fmt: skip
    take = takes.take_request(panel=panel, author=dana, seed=4242, steps=3, guidance=2.5,
                              width=72, height=40)  # fmt: skip
    assert take.negative_prompt == "people, colour"  # the style's, added when composed
    boards.panel_update(panel=panel, prompt="an empty street", negative_prompt="", shot_type="ws",
                        camera_move="static")  # fmt: skip
    return take


def test_recall_puts_the_takes_prompt_shot_and_camera_back(
    project, panel, dana, recalled_take, django_capture_on_commit_callbacks
):
    before = list(Take.objects.values())
    membership = project.memberships.get(user=dana)
    with events.captured() as sent, django_capture_on_commit_callbacks(execute=True):
        boards.panel_recall(panel=panel, take=recalled_take, membership=membership)
    panel.refresh_from_db()
    assert (panel.prompt, panel.negative_prompt, panel.shot_type, panel.camera_move) == (
        "a diner at night, rain", "people", "cu", "dolly")  # fmt: skip
    assert [(e["event"], e["data"]["panel"]) for e in sent] == [("panel.updated", panel.id)]
    assert list(Take.objects.values()) == before  # takes are never changed


def test_a_recalled_panel_composes_the_same_prompt_again(panel, dana, project, recalled_take):
    panel = boards.panel_recall(panel=panel, take=recalled_take,
                                membership=project.memberships.get(user=dana))  # fmt: skip
    again = takes.take_request(panel=panel, author=dana, **{
        k: v for k, v in recalled_settings(recalled_take).items() if v is not None
        and k not in ("tool", "parent_take")})  # fmt: skip
    for field in Take.PARAMETERS:
        assert getattr(again, field) == getattr(recalled_take, field), field


def recalled_settings(take) -> dict:
    from storyboards.presenters import recall_settings

    return recall_settings(take)


def test_recall_from_the_board_sends_the_settings_to_the_generate_form(
    panel, dana, recalled_take, django_capture_on_commit_callbacks
):
    with events.captured() as sent, django_capture_on_commit_callbacks(execute=True):
        response = page(dana).post(f"/takes/{recalled_take.id}/recall/")
    assert response.status_code == 200
    trigger = json.loads(response["HX-Trigger"])
    assert trigger["take-recalled"]["fields"] == {
        "prompt": "a diner at night, rain", "negative_prompt": "people", "shot_type": "cu",
        "camera_move": "dolly"}  # fmt: skip
    settings = trigger["take-recalled"]["settings"]
    assert settings | {"model": "tiny"} == {
        "tool": "text2image", "model": "tiny", "seed": 4242, "steps": 3, "guidance": 2.5,
        "width": 72, "height": 40, "strength": None, "scale": None, "num_frames": None,
        "fps": None, "parent_take": None}  # fmt: skip
    assert "panel-saved" in trigger
    assert f'id="panel-{panel.id}-meta"' in response.content.decode()
    assert [e["event"] for e in sent] == ["panel.updated"]


def test_recall_over_the_api_answers_the_panel_and_the_settings(api, panel, dana, recalled_take):
    response = api(dana).post(f"/takes/{recalled_take.id}/recall")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == panel.id and body["prompt"] == "a diner at night, rain"
    assert body["shot_type"] == "cu" and body["generate"]["seed"] == 4242


def test_a_take_made_before_prompts_were_composed_recalls_its_prompt(project, panel, dana):
    old = finished_take(panel, dana, "old", prompt="a lighthouse", negative_prompt="fog")
    boards.panel_update(panel=panel, shot_type="ms")
    boards.panel_recall(panel=panel, take=old, membership=project.memberships.get(user=dana))
    panel.refresh_from_db()
    assert (panel.prompt, panel.negative_prompt, panel.shot_type) == ("a lighthouse", "fog", "ms")


def test_viewers_may_not_recall_and_outsiders_get_404(
    api, project, panel, vic, olga, recalled_take
):
    refused = page(vic).post(f"/takes/{recalled_take.id}/recall/")
    assert refused.status_code == 403 and b"viewer" in refused.content  # said in words
    refused = api(vic).post(f"/takes/{recalled_take.id}/recall")
    assert refused.status_code == 403 and "viewer" in refused.json()["detail"]
    assert page(olga).post(f"/takes/{recalled_take.id}/recall/").status_code == 404
    assert api(olga).post(f"/takes/{recalled_take.id}/recall").status_code == 404
    panel.refresh_from_db()
    assert panel.prompt == "an empty street"  # nothing written


def test_recall_needs_a_take_of_that_panel(project, storyboard, panel, dana, recalled_take):
    from django.http import Http404

    other = boards.panel_create(storyboard=storyboard, user=dana, prompt="elsewhere")
    with pytest.raises(Http404):
        boards.panel_recall(panel=other, take=recalled_take,
                            membership=project.memberships.get(user=dana))  # fmt: skip
    other.refresh_from_db()
    assert other.prompt == "elsewhere"


# --- in a real browser -------------------------------------------------------------------------


def png(color) -> ContentFile:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (96, 54), color).save(buffer, "PNG")
    return ContentFile(buffer.getvalue())


def seeded_take(panel, author, color, **fields) -> Take:
    fields = {"model_key": "tiny", "seed": 1, "steps": 2, "guidance": 1.0, "width": 96,
              "height": 54, "status": "succeeded", "progress": 1.0, "prompt": panel.prompt,
              **fields}  # fmt: skip
    take = Take.objects.create(panel=panel, author=author, **fields)
    take.image.save(f"p/take-{take.id}.png", png(color), save=True)
    return take


def history(panel, dana, arti) -> tuple[Take, Take]:
    """A take on the board (a close-up of a red diner) and a variation of it, made since; the
    panel has been rewritten meanwhile."""
    parts = [{"source": "shot", "label": "Shot type: Close-up", "text": "close-up", "tokens": 2,
              "cut": False, "kept": "close-up", "why": ""},
             {"source": "prompt", "label": "Prompt", "text": "a red diner", "tokens": 3,
              "cut": False, "kept": "a red diner", "why": ""}]  # fmt: skip
    first = seeded_take(panel, dana, (200, 40, 40), seed=1234, steps=3, guidance=4.5,
                        prompt="close-up, a red diner", prompt_parts=parts)  # fmt: skip
    varied = seeded_take(panel, arti, (40, 60, 200), seed=99, tool="variation", parent=first,
                         strength=0.5, prompt="close-up, a blue diner")  # fmt: skip
    boards.panel_update(panel=panel, selected_take=first.id, prompt="an empty street",
                        shot_type="ws")  # fmt: skip
    return first, varied


@pytest.mark.browser
def test_compare_with_the_slider_and_recall_in_a_browser(
    request, processes, project, storyboard, panel, dana, arti
):
    from tests.test_browser import assert_not_reloaded, diagnostics, inspect, open_board

    chromium = request.getfixturevalue("browser")  # test_browser's: one Chromium per module
    first, varied = history(panel, dana, arti)
    host = processes.studio()
    with diagnostics(processes, chromium):
        page = open_board(chromium, host, "dana", storyboard.id)
        inspect(page, panel.id)

        # Lineage: the variation sits under its take; its link lights that take up.
        child = page.locator(f"#take-{varied.id}-row")
        assert child.get_attribute("data-depth") == "1"
        child.locator(f"[data-take-jump='{first.id}']").click()
        page.wait_for_selector(f"#take-{first.id}-row.flash")

        # Compare the variation with the take on the board; the slider moves by keyboard.
        child.locator("[data-compare-pair]").click()
        handle = page.wait_for_selector("#take-compare[open] .compare-handle:focus")
        assert handle.get_attribute("aria-valuenow") == "50"
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        assert handle.get_attribute("aria-valuenow") == "60"
        stage = "#take-compare [data-compare-stage]"
        assert "--split: 60%" in page.get_attribute(stage, "style")
        page.keyboard.press("Home")
        assert handle.get_attribute("aria-valuenow") == "0"
        box = page.locator(stage).bounding_box()  # and by mouse: a click at three quarters
        page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)
        assert 70 <= int(handle.get_attribute("aria-valuenow")) <= 80
        differs = page.locator("#take-compare tr.differs th").all_inner_texts()
        assert {"Seed", "Tool", "Prompt as sent", "From take"} <= {
            d.split(" ≠")[0] for d in differs
        }
        # Both pictures loaded through the media view.
        page.wait_for_function(
            "() => [...document.querySelectorAll('#take-compare img')].every(i => i.complete && i.naturalWidth > 0)"
        )
        page.keyboard.press("Escape")
        page.wait_for_selector("#take-compare", state="hidden")
        assert page.evaluate("document.activeElement.matches('[data-compare-pair]')")
        assert page.locator("#inspector").is_visible()  # Esc closed the comparison only

        # Pick two with Compare…, the second opens the comparison.
        page.click(f"#take-{first.id}-row [data-compare]")
        page.wait_for_selector(f"#take-{first.id}-row [data-compare][aria-pressed='true']")
        page.click(f"#take-{varied.id}-row [data-compare]")
        page.wait_for_selector(f"#take-compare[open] .take-compare[data-a='{first.id}']")
        page.keyboard.press("Escape")

        # Recall the take on the board: its prompt and shot come back, and its settings fill
        # the Generate form.
        page.click(f"#take-{first.id}-row [data-recall]")
        edit = "#inspector [data-edit-form]"
        page.wait_for_function(
            "sel => document.querySelector(sel + ' textarea[name=prompt]').value === 'a red diner'",
            arg=edit,
        )
        assert page.input_value(f"{edit} select[name=shot_type]") == "cu"
        generate = "#inspector form.generate"
        assert page.input_value(f"{generate} input[name=seed]") == "1234"
        assert page.input_value(f"{generate} input[name=steps]") == "3"
        assert page.input_value(f"{generate} input[name=guidance]") == "4.5"
        assert page.input_value(f"{generate} select[name=tool]") == "text2image"
        page.wait_for_selector(f"{edit} [data-saved]:text-is('Saved')")
        page.wait_for_selector(f"#panel-{panel.id}-meta:has-text('Close-up')")
        panel.refresh_from_db()
        assert (panel.prompt, panel.shot_type) == ("a red diner", "cu")
        assert Take.objects.count() == 2
        assert_not_reloaded(page)
