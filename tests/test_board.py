"""The board a film team recognizes (issue 8): inserting, duplicating, deleting with undo, the
panel inspector, cards set like a printed board, and the live regions each change refreshes.

The cast of conftest.py: Dana owns the project, Arti is an artist, Vic a viewer, Olga an outsider.
Takes are made as a worker leaves them (a row and a file in storage): no worker runs here.
"""

import re

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.test import Client

from generation import services as takes
from generation.models import Take
from storyboards import presenters, selectors
from storyboards import services as boards
from storyboards.models import Comment, Panel
from studio import events
from studio.errors import Conflict

pytestmark = pytest.mark.django_db

INSPECTOR = {"X-Slate-Where": "inspector"}
TOO_LONG = "x" * (boards.TEXT_LIMIT + 1)


def page(user) -> Client:
    """A browser signed in as someone (its own client: the `api` fixture's stays token-only)."""
    browser = Client()
    browser.force_login(user)
    return browser


def order(storyboard) -> list[int]:
    """The board's panel ids in order; asserts the positions are 0, 1, 2… with no gap."""
    rows = list(
        Panel.objects.filter(storyboard=storyboard)
        .order_by("position")
        .values_list("pk", "position")
    )
    assert [position for _, position in rows] == list(range(len(rows))), rows
    return [pk for pk, _ in rows]


def add(storyboard, user, **fields) -> Panel:
    return boards.panel_create(storyboard=storyboard, user=user, **fields)


def finished_take(panel, author, name: str, **fields) -> Take:
    """A take as a worker leaves it: succeeded, its image in storage."""
    fields = {"model_key": "tiny", "seed": 1, "steps": 2, "guidance": 1.0, "width": 64,
              "height": 64, "status": "succeeded", "progress": 1.0, **fields}  # fmt: skip
    take = Take.objects.create(panel=panel, author=author, **fields)
    take.image.save(f"p/{name}.png", ContentFile(b"\x89PNG fake"), save=True)
    return take


def take_row(panel, author, status: str, **fields) -> Take:
    """A take without pictures: queued, running, failed or cancelled."""
    fields = {"model_key": "tiny", "seed": 1, "steps": 2, "guidance": 1.0, "width": 64,
              "height": 64, "status": status, **fields}  # fmt: skip
    return Take.objects.create(panel=panel, author=author, **fields)


def on_board(panel, take: Take) -> None:
    boards.panel_update(panel=panel, selected_take=take.id)


@pytest.fixture
def board(storyboard, panel, dana):
    """Three panels: the fixture's panel first, then two more."""
    return [panel, add(storyboard, dana, prompt="b"), add(storyboard, dana, prompt="c")]


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """send(action) runs it, commits, and returns what it published, each event with the HTML of
    the regions it refreshes as every open page gets it (rendered as the Outbox renders)."""

    def run(action):
        with events.captured() as sent, django_capture_on_commit_callbacks(execute=True):
            action()
        return events.render_batch(sent)

    return run


def html_of(message: dict, variant: str = events.EDIT) -> str:
    parts = message["html"]
    return parts.get(variant, parts.get(events.ALL, ""))


# --- inserting ------------------------------------------------------------------------------


def test_insert_before_and_after_a_panel_and_at_a_position(dana, storyboard, board):
    a, b, c = board
    browser = page(dana)
    url = f"/storyboards/{storyboard.id}/panels/"

    before = browser.post(url, {"before": b.id, "action": "before b"})
    assert before.status_code == 200
    new_before = Panel.objects.get(action="before b")
    assert order(storyboard) == [a.id, new_before.id, b.id, c.id]
    # Placed on the page before the panel now after it, and announced for the inspector.
    assert f"#panel-{b.id}" in before.content.decode()
    assert str(new_before.id) in before["HX-Trigger"]

    browser.post(url, {"after": c.id, "action": "after c"})
    new_after = Panel.objects.get(action="after c")
    assert order(storyboard) == [a.id, new_before.id, b.id, c.id, new_after.id]

    browser.post(url, {"position": "0", "action": "first"})
    first = Panel.objects.get(action="first")
    assert order(storyboard) == [first.id, a.id, new_before.id, b.id, c.id, new_after.id]
    assert first.prompt == "first"  # an action-only add drafts the prompt from the action


def test_api_inserts_at_a_position_or_at_the_end(api, dana, storyboard, board):
    a, b, c = board
    inserted = api(dana).post(
        f"/storyboards/{storyboard.id}/panels", {"prompt": "x", "position": 1}
    )
    assert inserted.status_code == 201 and inserted.json()["position"] == 1
    last = api(dana).post(f"/storyboards/{storyboard.id}/panels", {"prompt": "y"})
    assert last.json()["position"] == 4
    assert order(storyboard) == [a.id, inserted.json()["id"], b.id, c.id, last.json()["id"]]


def test_a_bad_place_is_refused_and_nothing_changes(api, dana, project, storyboard, board):
    elsewhere = add(boards.storyboard_create(project=project, user=dana, title="B"), dana)
    gone = add(storyboard, dana, prompt="gone")
    boards.panel_delete(panel=gone, by=dana)
    before, total = order(storyboard), Panel.all_objects.count()
    browser = page(dana)
    url = f"/storyboards/{storyboard.id}/panels/"
    for form in ({"position": "4"}, {"position": "-1"}, {"position": "two"},
                 {"before": str(elsewhere.id)}, {"after": str(gone.id)}, {"before": "x1"}):  # fmt: skip
        refused = browser.post(url, {"prompt": "nope", **form})
        assert refused.status_code == 422, form
        assert refused["HX-Retarget"] == "#board-notice"
    for position in (4, -1, 100_001):
        answer = api(dana).post(f"/storyboards/{storyboard.id}/panels", {"position": position})
        assert answer.status_code == 422, position
    assert order(storyboard) == before and Panel.all_objects.count() == total


# --- duplicating ----------------------------------------------------------------------------


def test_duplicate_copies_fields_and_picture_right_after_the_panel(dana, arti, storyboard, board):
    a, b, c = board
    boards.panel_update(panel=b, action="Mara runs.", dialogue="MARA: Run.", notes="35mm",
                        shot_type="cu", camera_move="dolly", duration_ms=3500,
                        aspect_ratio="2.39:1", negative_prompt="blurry")  # fmt: skip
    original = finished_take(b, dana, "b-take", seed=42)
    on_board(b, original)

    answer = page(arti).post(f"/panels/{b.id}/duplicate/")

    assert answer.status_code == 200
    copy = Panel.objects.exclude(pk__in=[a.id, b.id, c.id]).get()
    assert order(storyboard) == [a.id, b.id, copy.id, c.id]
    fields = ("prompt", "negative_prompt", "shot_type", "camera_move", "action", "dialogue",
              "notes", "duration_ms", "aspect_ratio")  # fmt: skip
    assert [getattr(copy, f) for f in fields] == [getattr(b, f) for f in fields]
    assert copy.created_by == arti
    picture = copy.selected_take
    assert picture.pk != original.pk and picture.panel_id == copy.id
    assert picture.parent_id == original.id and picture.status == "succeeded"
    assert picture.image.name == original.image.name and picture.seed == 42
    assert list(b.takes.all()) == [original]  # the original keeps its one take
    b.refresh_from_db()
    assert b.selected_take_id == original.id
    # The answer is the copy's card, placed before the panel after it, showing the picture.
    body = answer.content.decode()
    assert f'id="panel-{copy.id}"' in body and f"#panel-{c.id}" in body
    assert presenters.media_url(original.image.name) in body
    assert str(copy.id) in answer["HX-Trigger"]


def test_duplicating_a_panel_without_a_take_copies_no_take(api, dana, storyboard, board):
    a, b, c = board
    answer = api(dana).post(f"/panels/{c.id}/duplicate")
    assert answer.status_code == 201
    body = answer.json()
    assert body["position"] == 3 and body["prompt"] == "c" and body["selected_take"] is None
    assert order(storyboard) == [a.id, b.id, c.id, body["id"]]
    assert not Take.objects.exists()


def test_api_duplicate_carries_the_selected_take(api, dana, storyboard, board):
    a, b, c = board
    original = finished_take(a, dana, "a-take")
    on_board(a, original)
    body = api(dana).post(f"/panels/{a.id}/duplicate").json()
    assert body["position"] == 1 and body["selected_take"] not in (None, original.id)
    assert Take.objects.get(pk=body["selected_take"]).parent_id == original.id


def test_a_panel_past_todays_limits_is_not_duplicated_and_the_page_says_why(
    dana, storyboard, board
):
    a, b, c = board
    Panel.objects.filter(pk=b.pk).update(notes=TOO_LONG)  # written before the limit existed
    refused = page(dana).post(f"/panels/{b.id}/duplicate/", headers=INSPECTOR)
    assert refused.status_code == 422 and refused["HX-Retarget"] == "#inspector-notice"
    assert "4000" in refused.content.decode()
    assert order(storyboard) == [a.id, b.id, c.id]


def test_duplicate_lands_after_the_panel_where_it_stands_now(dana, storyboard, board):
    a, b, c = board
    stale = Panel.objects.get(pk=b.pk)  # read before someone inserts a panel ahead of it
    first = add(storyboard, dana, prompt="new first", position=0)
    copy = boards.panel_duplicate(panel=stale, user=dana)
    assert order(storyboard) == [first.id, a.id, b.id, copy.id, c.id]


# --- deleting and undo ----------------------------------------------------------------------


def test_delete_takes_the_card_off_the_board_and_keeps_the_panel(dana, arti, storyboard, board):
    a, b, c = board
    picture = finished_take(b, dana, "b-take")
    on_board(b, picture)
    comment = boards.comment_add(panel=b, author=arti, body="Too dark.")
    browser = page(arti)

    answer = browser.post(f"/panels/{b.id}/delete/")

    assert answer.status_code == 200
    body = answer.content.decode()
    assert f'<article id="panel-{b.id}" hx-swap-oob="delete"></article>' in body
    assert "beforeend:#toasts" in body and f'hx-post="/panels/{b.id}/restore/"' in body
    assert "Undo" in body
    assert order(storyboard) == [a.id, c.id]
    kept = Panel.all_objects.get(pk=b.pk)
    assert kept.deleted_at is not None and kept.deleted_by == arti and kept.position == 1
    assert list(kept.takes.all()) == [picture] and list(kept.comments.all()) == [comment]
    assert kept.selected_take_id == picture.id
    board_page = browser.get(f"/storyboards/{storyboard.id}/").content.decode()
    assert f'id="panel-{b.id}"' not in board_page and f'id="panel-{c.id}"' in board_page
    assert "2 panels" in board_page
    assert browser.get(f"/panels/{b.id}/card/").status_code == 404
    assert browser.get(f"/panels/{b.id}/inspector/").status_code == 404
    assert browser.post(f"/panels/{b.id}/comments/", {"body": "hi"}).status_code == 404
    assert browser.post(f"/panels/{b.id}/delete/").status_code == 404  # not twice


def test_restore_puts_the_panel_back_where_it_stood(dana, storyboard, board):
    a, b, c = board
    browser = page(dana)
    browser.post(f"/panels/{b.id}/delete/")
    answer = browser.post(f"/panels/{b.id}/restore/")
    assert answer.status_code == 200
    assert order(storyboard) == [a.id, b.id, c.id]
    b.refresh_from_db()
    assert b.deleted_at is None and b.deleted_by is None
    body = answer.content.decode()
    assert f'id="panel-{b.id}"' in body and f"#panel-{c.id}" in body  # before the next one
    assert browser.get(f"/panels/{b.id}/card/").status_code == 200


def test_restore_goes_last_when_the_board_got_shorter(api, dana, storyboard, board):
    a, b, c = board
    d = add(storyboard, dana, prompt="d")
    assert api(dana).delete(f"/panels/{c.id}").status_code == 204  # stood at 2
    assert api(dana).delete(f"/panels/{a.id}").status_code == 204
    assert order(storyboard) == [b.id, d.id]
    restored = api(dana).post(f"/panels/{c.id}/restore")
    assert restored.status_code == 200 and restored.json()["position"] == 2
    assert order(storyboard) == [b.id, d.id, c.id]
    restored = api(dana).post(f"/panels/{a.id}/restore")
    assert restored.json()["position"] == 0
    assert order(storyboard) == [a.id, b.id, d.id, c.id]


def test_restoring_a_panel_on_the_board_is_refused(api, dana, storyboard, board):
    a, b, c = board
    assert page(dana).post(f"/panels/{b.id}/restore/").status_code == 404
    assert api(dana).post(f"/panels/{b.id}/restore").status_code == 404
    with pytest.raises(Conflict):
        boards.panel_restore(panel=b)
    assert order(storyboard) == [a.id, b.id, c.id]


def test_deleting_the_same_panel_twice_closes_the_gap_once(dana, storyboard, board):
    a, b, c = board
    d = add(storyboard, dana, prompt="d")
    first, second = Panel.objects.get(pk=b.pk), Panel.objects.get(pk=b.pk)  # two clicks
    boards.panel_delete(panel=first, by=dana)
    with pytest.raises(ValidationError):
        boards.panel_delete(panel=second, by=dana)
    assert order(storyboard) == [a.id, c.id, d.id]
    assert Panel.all_objects.get(pk=b.pk).position == 1


def test_a_deleted_panel_keeps_where_it_stands_when_deleted(dana, storyboard, board):
    a, b, c = board
    stale = Panel.objects.get(pk=c.pk)  # read before someone inserts a panel ahead of it
    first = add(storyboard, dana, prompt="new first", position=0)
    boards.panel_delete(panel=stale, by=dana)
    assert order(storyboard) == [first.id, a.id, b.id]
    boards.panel_restore(panel=stale)
    assert order(storyboard) == [first.id, a.id, b.id, c.id]


# --- what each change tells every open page -------------------------------------------------


def test_insert_tells_pages_with_the_card_and_the_head(send, dana, storyboard, board):
    a, b, c = board
    created = []
    [message] = send(lambda: created.append(add(storyboard, dana, action="new", position=1)))
    new = created[0]
    assert message["event"] == "panel.created" and message["data"]["panel"] == new.id
    for variant in (events.EDIT, events.VIEW):
        html = html_of(message, variant)
        assert f'id="panel-{new.id}"' in html and f"#panel-{b.id}" in html  # placed before b
        assert '<div id="board-head"' in html and "4 panels" in html
    assert f"/panels/{new.id}/generate/" not in html_of(message, events.VIEW)


def test_duplicate_tells_pages_with_the_copy_and_its_picture(send, dana, storyboard, board):
    a, b, c = board
    original = finished_take(a, dana, "a-take")
    on_board(a, original)
    [message] = send(lambda: page(dana).post(f"/panels/{a.id}/duplicate/"))
    copy = Panel.objects.get(position=1)
    assert message["event"] == "panel.created" and message["data"]["panel"] == copy.id
    html = html_of(message)
    assert f'id="panel-{copy.id}"' in html
    assert f'data-take="{copy.selected_take_id}"' in html
    assert presenters.media_url(original.image.name) in html
    assert "4 panels" in html


def test_delete_and_restore_tell_pages_and_the_head_counts_and_times(send, dana, storyboard, board):
    a, b, c = board
    for panel, ms in zip(board, (60_000, 20_000, 5_000), strict=True):
        boards.panel_update(panel=panel, duration_ms=ms)

    [deleted] = send(lambda: page(dana).post(f"/panels/{a.id}/delete/"))
    assert deleted["event"] == "panel.deleted" and deleted["data"]["panel"] == a.id
    html = html_of(deleted, events.ALL)
    assert f'<article id="panel-{a.id}" hx-swap-oob="delete"></article>' in html
    head = re.search(r'<div id="board-head".*?</div>', html, re.S).group(0)
    assert 'hx-swap-oob="true"' in head and "2 panels" in head and "0:25" in head

    [restored] = send(lambda: page(dana).post(f"/panels/{a.id}/restore/"))
    assert restored["event"] == "panel.restored" and restored["data"]["panel"] == a.id
    html = html_of(restored)
    assert f'id="panel-{a.id}"' in html and f"#panel-{b.id}" in html  # back before b
    assert "3 panels" in html and "1:25" in html


def test_a_comment_refreshes_the_count_on_the_card(send, arti, vic, storyboard, panel):
    [message] = send(lambda: boards.comment_add(panel=panel, author=vic, body="Wider?"))
    assert message["event"] == "comment.created"
    html = html_of(message, events.ALL)
    meta = re.search(rf'<div id="panel-{panel.id}-meta".*?</div>', html, re.S).group(0)
    assert 'hx-swap-oob="morph"' in meta and re.search(r'class="ccount"[^>]*>1<', meta)
    [message] = send(lambda: page(arti).post(f"/panels/{panel.id}/comments/", {"body": "Yes."}))
    assert re.search(r'class="ccount"[^>]*>2<', html_of(message, events.ALL))
    assert "Yes." in html_of(message, events.ALL)  # the comment itself, for open inspectors


def test_a_cancelled_take_refreshes_the_inspector_takes_list(send, project, dana, panel):
    take = take_row(panel, dana, "queued")
    membership = project.memberships.get(user=dana)
    [message, *_] = send(lambda: takes.take_cancel(take=take, by=dana, membership=membership))
    assert message["event"] == "take.cancelled"
    html = html_of(message)
    rows = re.search(rf'<ol id="panel-{panel.id}-takes".*?</ol>', html, re.S).group(0)
    assert f'id="take-{take.id}-row" class="take-row cancelled' in rows and "Cancelled" in rows
    assert f"/takes/{take.id}/retry/" in rows
    assert f"/takes/{take.id}/retry/" not in html_of(message, events.VIEW)


# --- who may do what ------------------------------------------------------------------------


def page_writes(storyboard, panel, gone) -> list[tuple[str, dict]]:
    return [
        (f"/storyboards/{storyboard.id}/panels/", {"before": panel.id, "prompt": "x"}),
        (f"/storyboards/{storyboard.id}/panels/", {"position": "0", "prompt": "x"}),
        (f"/panels/{panel.id}/duplicate/", {}),
        (f"/panels/{panel.id}/delete/", {}),
        (f"/panels/{gone.id}/restore/", {}),
        (f"/panels/{panel.id}/edit/", {"action": "changed"}),
    ]


def api_writes(storyboard, panel, gone) -> list[tuple[str, str, dict | None]]:
    return [
        ("post", f"/storyboards/{storyboard.id}/panels", {"prompt": "x", "position": 0}),
        ("post", f"/panels/{panel.id}/duplicate", {}),
        ("delete", f"/panels/{panel.id}", None),
        ("post", f"/panels/{gone.id}/restore", {}),
    ]


@pytest.fixture
def gone(storyboard, dana):
    panel = add(storyboard, dana, prompt="deleted")
    return boards.panel_delete(panel=panel, by=dana)


def snapshot(storyboard) -> list:
    return list(
        Panel.all_objects.filter(storyboard=storyboard)
        .order_by("pk")
        .values_list("pk", "position", "deleted_at", "action")
    )


@pytest.mark.parametrize("who, status", [("olga", 404), ("vic", 403)])
def test_outsiders_get_404_and_viewers_403_for_every_change(
    request, api, storyboard, panel, gone, who, status
):
    user = request.getfixturevalue(who)
    before, takes_before = snapshot(storyboard), Take.objects.count()
    browser = page(user)
    for url, form in page_writes(storyboard, panel, gone):
        assert browser.post(url, form).status_code == status, url
    for method, path, body in api_writes(storyboard, panel, gone):
        caller = api(user)
        answer = caller.delete(path) if method == "delete" else caller.post(path, body)
        assert answer.status_code == status, path
    assert snapshot(storyboard) == before and Take.objects.count() == takes_before


def test_outsider_cannot_open_the_inspector(olga, panel):
    assert page(olga).get(f"/panels/{panel.id}/inspector/").status_code == 404


def test_an_artist_inserts_duplicates_deletes_and_restores(api, arti, storyboard, panel):
    browser = page(arti)
    assert (
        browser.post(f"/storyboards/{storyboard.id}/panels/", {"after": panel.id}).status_code
        == 200
    )
    assert browser.post(f"/panels/{panel.id}/duplicate/").status_code == 200
    assert browser.post(f"/panels/{panel.id}/delete/").status_code == 200
    assert api(arti).post(f"/panels/{panel.id}/restore").status_code == 200
    assert len(order(storyboard)) == 3


def test_a_viewer_reads_the_inspector_and_comments(vic, dana, panel):
    finished = finished_take(panel, dana, "t")
    on_board(panel, finished)
    failed = take_row(panel, dana, "failed", error="The model ran out of memory.")
    browser = page(vic)

    answer = browser.get(f"/panels/{panel.id}/inspector/")

    assert answer.status_code == 200
    html = answer.content.decode()
    for edit_only in ("/edit/", "/generate/", "/duplicate/", "/delete/", "/panels/",
                      f"/takes/{failed.id}/retry/", "/select/", 'name="prompt"'):  # fmt: skip
        assert edit_only not in html.replace(f"/panels/{panel.id}/comments/", ""), edit_only
    assert f'hx-post="/panels/{panel.id}/comments/"' in html and 'name="body"' in html
    assert "a diner at night, rain" in html  # the prompt, read-only
    assert f'id="take-{failed.id}-row"' in html and "The model ran out of memory." in html
    assert browser.post(f"/panels/{panel.id}/comments/", {"body": "Love it."}).status_code == 200
    assert Comment.objects.get().author == vic


def test_the_edit_form_takes_posts_only(dana, panel):
    assert page(dana).get(f"/panels/{panel.id}/edit/").status_code == 405


# --- the inspector --------------------------------------------------------------------------


def tool_options(html: str) -> dict[str, bool]:
    """{tool: enabled} from the generate form's tool select."""
    options = re.findall(r'<option value="(\w+)"( disabled)?>', html)
    tools = ("text2image", "variation", "inpaint", "upscale", "video")
    return {value: not disabled for value, disabled in options if value in tools}


def test_image_tools_wait_for_a_finished_take_on_the_board(dana, panel):
    browser = page(dana)
    url = f"/panels/{panel.id}/inspector/"
    html = browser.get(url).content.decode()
    assert tool_options(html) == {"text2image": True, "variation": False, "inpaint": False,
                                  "upscale": False, "video": True}  # fmt: skip
    assert "(needs a finished take)" in html and "Generate a take first" in html

    take_row(panel, dana, "failed", error="Out of memory.")  # a failure starts nothing
    assert not tool_options(browser.get(url).content.decode())["variation"]

    finished = finished_take(panel, dana, "t")
    on_board(panel, finished)
    html = browser.get(url).content.decode()
    assert all(tool_options(html).values())
    assert f'name="parent_take" value="{finished.id}"' in html
    assert f"Starts from take {finished.id}" in html


def test_the_takes_list_is_newest_first_in_words_and_marks_the_one_on_the_board(dana, arti, panel):
    picked = finished_take(panel, dana, "first", seed=11)
    on_board(panel, picked)
    later = finished_take(panel, arti, "second", seed=12)
    failed = take_row(panel, arti, "failed", seed=13, error="The model ran out of GPU memory.")
    cancelled = take_row(panel, dana, "cancelled", seed=14, error="Cancelled by dana.")

    html = page(dana).get(f"/panels/{panel.id}/inspector/").content.decode()

    rows = re.findall(r'<li id="take-(\d+)-row" class="take-row (\w+)( selected)?"', html)
    assert rows == [(str(cancelled.id), "cancelled", ""), (str(failed.id), "failed", ""),
                    (str(later.id), "succeeded", ""), (str(picked.id), "succeeded", " selected")]  # fmt: skip
    assert html.count("On the board") == 1
    failed_row = re.search(rf'id="take-{failed.id}-row".*?</li>', html, re.S).group(0)
    assert "Failed" in failed_row and "The model ran out of GPU memory." in failed_row
    assert "by arti" in failed_row and "seed 13" in failed_row and "tiny" in failed_row
    assert "Text to image" in failed_row and "just now" in failed_row
    assert f"/takes/{failed.id}/retry/" in failed_row
    cancelled_row = re.search(rf'id="take-{cancelled.id}-row".*?</li>', html, re.S).group(0)
    assert "Cancelled" in cancelled_row and "Cancelled by dana." in cancelled_row
    later_row = re.search(rf'id="take-{later.id}-row".*?</li>', html, re.S).group(0)
    assert f"/takes/{later.id}/select/" in later_row and "by arti" in later_row


def test_running_takes_say_what_they_are_doing(dana, panel):
    loading = take_row(panel, dana, "running", progress=0.0)
    cancelling = take_row(panel, dana, "running", progress=0.4, cancel_requested=True)
    html = page(dana).get(f"/panels/{panel.id}/inspector/").content.decode()
    row = re.search(rf'id="take-{loading.id}-row".*?</li>', html, re.S).group(0)
    assert "Loading model…" in row and f"/takes/{loading.id}/cancel/" in row
    row = re.search(rf'id="take-{cancelling.id}-row".*?</li>', html, re.S).group(0)
    assert "Cancelling…" in row and "/cancel/" not in row


def test_a_refused_edit_is_explained_where_the_person_looks(dana, panel):
    browser = page(dana)
    in_inspector = browser.post(
        f"/panels/{panel.id}/edit/", {"action": TOO_LONG}, headers=INSPECTOR
    )
    assert in_inspector.status_code == 422 and in_inspector["HX-Retarget"] == "#inspector-notice"
    assert "4000" in in_inspector.content.decode()
    on_card = browser.post(f"/panels/{panel.id}/edit/", {"notes": TOO_LONG})
    assert on_card.status_code == 422 and on_card["HX-Retarget"] == f"#panel-{panel.id}-notice"
    saved = browser.post(f"/panels/{panel.id}/edit/", {"action": "Mara waits."}, headers=INSPECTOR)
    assert saved.status_code == 200 and saved["HX-Trigger"] == "panel-saved"
    assert f'id="panel-{panel.id}-meta"' in saved.content.decode()


# --- the card -------------------------------------------------------------------------------


def test_the_card_shows_action_and_dialogue_as_a_screenplay_not_the_prompt(dana, panel):
    boards.panel_update(panel=panel, action="Mara slams the door.",
                        dialogue="MARA: Run.\n(beat)\nJACK\nWhere?", notes="Handheld.")  # fmt: skip
    browser = page(dana)
    card = browser.get(f"/panels/{panel.id}/card/").content.decode()
    assert '<p class="action">Mara slams the door.</p>' in card
    dialogue = re.search(r'<div class="dialogue">(.*?)</div>', card, re.S).group(1)
    assert dialogue == (
        '<p class="cue">MARA</p><p class="line">Run.</p><p class="paren">(beat)</p>'
        '<p class="cue">JACK</p><p class="line">Where?</p>'
    )
    assert '<p class="notes">Handheld.</p>' in card
    assert "a diner at night, rain" not in card
    board_page = browser.get(f"/storyboards/{panel.storyboard_id}/").content.decode()
    article = re.search(rf'<article id="panel-{panel.id}".*?</article>', board_page, re.S).group(0)
    assert '<p class="cue">MARA</p>' in article and "a diner at night, rain" not in article


def test_the_running_take_shows_on_the_card_before_queued_ones(dana, panel):
    waiting = take_row(panel, dana, "queued")
    running = take_row(panel, dana, "running", progress=0.0)
    browser = page(dana)
    frame = browser.get(f"/panels/{panel.id}/card/").content.decode()
    assert f'id="take-{running.id}-bar"' in frame and "Loading model…" in frame
    assert "+1 waiting" in frame and f'id="take-{waiting.id}-queue"' not in frame
    Take.objects.filter(pk=running.pk).update(progress=0.5, cancel_requested=True)
    frame = browser.get(f"/panels/{panel.id}/card/").content.decode()
    assert "Cancelling…" in frame and f"/takes/{running.id}/cancel/" not in frame


def test_dialogue_lines_set_dialogue_as_a_screenplay():
    assert presenters.dialogue_lines("MARA: Run.") == [("cue", "MARA"), ("line", "Run.")]
    assert presenters.dialogue_lines("DR. OKAFOR (V.O.): Sit down.\n\n(quietly)\nPlease.") == [
        ("cue", "DR. OKAFOR (V.O.)"), ("line", "Sit down."), ("paren", "(quietly)"),
        ("line", "Please."),
    ]  # fmt: skip
    assert presenters.dialogue_lines("JACK\n  Where is she?  ") == [
        ("cue", "JACK"), ("line", "Where is she?")
    ]  # fmt: skip
    assert presenters.dialogue_lines("MARA:\nRun.") == [("cue", "MARA"), ("line", "Run.")]
    # Not a cue: mixed case, no letters, or too long to be a name.
    assert presenters.dialogue_lines("Mara: run") == [("line", "Mara: run")]
    assert presenters.dialogue_lines("10:30 the bus") == [("line", "10:30 the bus")]
    shout = "WE ARE NOT GOING BACK THERE, NOT EVER AGAIN"
    assert presenters.dialogue_lines(shout) == [("line", shout)]
    assert presenters.dialogue_lines("") == []


def test_running_time_reads_as_an_editor_reads_a_cut():
    assert presenters.running_time(0) == "0:00"
    assert presenters.running_time(2000) == "0:02"
    assert presenters.running_time(84_500) == "1:25"
    assert presenters.running_time(59_400) == "0:59"
    assert presenters.running_time(600_000) == "10:00"
    assert presenters.running_time(3_725_000) == "1:02:05"


def test_the_board_head_counts_live_panels_and_their_running_time(dana, storyboard, board):
    for panel, ms in zip(board, (60_000, 20_000, 4_500), strict=True):
        boards.panel_update(panel=panel, duration_ms=ms)
    boards.panel_delete(panel=board[1], by=dana)
    head = presenters.board_head(storyboard)
    assert head["panels"] == 2 and head["running_time"] == "1:05"
    html = page(dana).get(f"/storyboards/{storyboard.id}/").content.decode()
    assert "2 panels" in html and "1:05" in html


# --- limits and defaults --------------------------------------------------------------------


@pytest.mark.parametrize("field", ["action", "dialogue", "notes"])
def test_text_past_the_limit_is_refused_everywhere(api, dana, storyboard, panel, field):
    browser = page(dana)
    assert (
        browser.post(f"/storyboards/{storyboard.id}/panels/", {field: TOO_LONG}).status_code == 422
    )
    assert browser.post(f"/panels/{panel.id}/edit/", {field: TOO_LONG}).status_code == 422
    assert (
        api(dana).post(f"/storyboards/{storyboard.id}/panels", {field: TOO_LONG}).status_code == 422
    )
    assert api(dana).patch(f"/panels/{panel.id}", {field: TOO_LONG}).status_code == 422
    with pytest.raises(ValidationError):
        boards.panel_update(panel=Panel.objects.get(pk=panel.pk), **{field: TOO_LONG})
    assert Panel.objects.count() == 1 and getattr(Panel.objects.get(), field) == ""
    at_limit = "y" * boards.TEXT_LIMIT
    assert api(dana).patch(f"/panels/{panel.id}", {field: at_limit}).status_code == 200
    assert getattr(Panel.objects.get(), field) == at_limit


def test_a_new_panel_takes_the_board_aspect_ratio(api, dana, project):
    scope = boards.storyboard_create(
        project=project, user=dana, title="Scope", aspect_ratio="2.39:1"
    )
    assert add(scope, dana).aspect_ratio == "2.39:1"
    page(dana).post(f"/storyboards/{scope.id}/panels/", {"action": "page"})
    assert Panel.objects.get(action="page").aspect_ratio == "2.39:1"
    assert api(dana).post(f"/storyboards/{scope.id}/panels", {}).json()["aspect_ratio"] == "2.39:1"
    chosen = api(dana).post(f"/storyboards/{scope.id}/panels", {"aspect_ratio": "9:16"})
    assert chosen.json()["aspect_ratio"] == "9:16"  # a panel may still differ


def test_project_page_counts_only_panels_on_the_board(dana, project, storyboard, board):
    boards.panel_delete(panel=board[0], by=dana)
    html = page(dana).get(f"/projects/{project.id}/").content.decode()
    assert "2 panels" in html and "3 panels" not in html
    assert "(and 1 deleted, kept for undo)" in html
    [row] = selectors.storyboards_for_project(project=project)
    assert row.panel_count == 2


def test_the_cards_take_three_queries_whatever_the_board_size(
    dana, arti, storyboard, board, django_assert_num_queries
):
    for i, panel in enumerate(board):
        on_board(panel, finished_take(panel, dana, f"t{i}"))
        take_row(panel, arti, "queued")
        take_row(panel, dana, "failed", error="Out of memory.")  # the newest
        boards.comment_add(panel=panel, author=arti, body="ok")
    # panels with their selected takes, latest take and comment count; their running and queued
    # takes; the latest takes that failed
    with django_assert_num_queries(3):
        panels = selectors.panels_for_storyboard(storyboard=storyboard)
    assert [p.comment_count for p in panels] == [1, 1, 1]
    assert all(p.last_failed and len(p.active_takes) == 1 for p in panels)


def test_a_deleted_panels_takes_cannot_be_retried_or_selected_but_a_late_result_is_kept(
    client, dana, storyboard, panel
):
    """Retrying or picking a take of a deleted panel would spend GPU on what nobody sees; a take
    that finishes while its panel is deleted still becomes its picture, for the undo."""
    from generation import services as takes
    from generation.models import Status, Take
    from storyboards import services as boards

    take = Take.objects.create(
        panel=panel, author=dana, status=Status.FAILED, model_key="tiny", seed=1, steps=1,
        guidance=1.0, width=64, height=64, prompt="p",
    )  # fmt: skip
    boards.panel_delete(panel=panel, by=dana)
    client.force_login(dana)
    assert client.post(f"/takes/{take.id}/retry/").status_code == 404
    assert client.post(f"/api/takes/{take.id}/retry").status_code == 404
    assert Take.objects.count() == 1
    running = Take.objects.create(
        panel=panel, author=dana, status=Status.RUNNING, model_key="tiny", seed=2, steps=1,
        guidance=1.0, width=64, height=64, prompt="p", claim="c1",
    )  # fmt: skip
    import io

    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (64, 64)).save(png, "PNG")
    assert takes.take_succeed(take=running, png=png.getvalue(), mp4=None, timings={},
                              gpu_seconds=0.1)  # fmt: skip
    panel.refresh_from_db()
    assert panel.selected_take_id == running.id


def test_the_takes_lists_of_a_batch_take_the_same_queries_for_one_panel_or_many(
    dana, storyboard, board, django_assert_num_queries
):
    """A "Generate all" batch refreshes hundreds of takes lists: read once, not once a panel."""
    from storyboards.presenters import render_takes

    for i, panel in enumerate(board):
        finished_take(panel, dana, f"t{i}")
    with django_assert_num_queries(2):  # the panels, and every take of them with its author
        one = render_takes([{"panel": board[0].id}])
    with django_assert_num_queries(2):
        many = render_takes([{"panel": p.id} for p in board])
    assert set(one) == {board[0].id} and set(many) == {p.id for p in board}
    assert 'id="take-' in many[board[-1].id]["edit"]
