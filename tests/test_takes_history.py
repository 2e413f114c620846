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

pytestmark = pytest.mark.django_db


def page(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


def finished_take(panel, author, name: str, **fields) -> Take:
    """A take as a worker leaves it: succeeded, its image in storage."""
    fields = {"model_key": "tiny", "seed": 1, "steps": 2, "guidance": 1.0, "width": 64,
              "height": 64, "status": "succeeded", "progress": 1.0, "prompt": panel.prompt,
              **fields}  # fmt: skip
    take = Take.objects.create(panel=panel, author=author, **fields)
    take.image.save(f"p/{name}.png", ContentFile(b"\x89PNG fake"), save=True)
    return take


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
    assert refused.status_code == 403
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
