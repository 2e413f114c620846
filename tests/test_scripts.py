"""Scripts (issue 10): the API contract, versions and merges, the breakdown, "Storyboard this
scene", and panels that follow their script through edits."""

import pytest

from storyboards import scripts
from storyboards.models import (
    Character,
    Location,
    Panel,
    Scene,
    Script,
    ScriptVersion,
    Storyboard,
)
from tests.conftest import token_for

pytestmark = pytest.mark.django_db

DINER = """Title: Night Shift
Author: Dana

INT. DINER - NIGHT

Rain streaks the windows. MARA slides into a booth.

MARA
(quietly)
We should go.

JOHN
Not yet.

EXT. PARKING LOT - CONTINUOUS

Mara runs to the car.
"""


def send(client, user, method, path, body=None, **extra):
    headers = {"Authorization": f"Bearer {token_for(user)}"}
    if body is not None and "data" not in extra:
        extra.update(data=body, content_type="application/json")
    return getattr(client, method)(f"/api{path}", headers=headers, **extra)


@pytest.fixture
def script(project, dana):
    return scripts.script_create(project=project, user=dana, title="Night Shift", text=DINER)


# --- the contract --------------------------------------------------------------------------


def test_create_get_and_save_versions(client, project, dana):
    made = send(client, dana, "post", f"/projects/{project.id}/scripts",
                {"title": "Pilot", "text": DINER})  # fmt: skip
    assert made.status_code == 201
    body = made.json()
    assert body["version"] == 1 and set(body) >= {"id", "version"}
    got = send(client, dana, "get", f"/scripts/{body['id']}").json()
    assert got["title"] == "Pilot" and got["version"] == 1 and got["text"] == DINER
    saved = send(client, dana, "put", f"/scripts/{body['id']}",
                 {"text": DINER + "\nMara drives.\n", "base_version": 1})  # fmt: skip
    assert saved.status_code == 200 and saved.json()["version"] == 2
    assert [
        v["number"] for v in send(client, dana, "get", f"/scripts/{body['id']}/versions").json()
    ] == [2, 1]


def test_second_save_of_the_same_version_is_refused_with_a_merge(client, script, dana, arti):
    first = DINER.replace("Rain streaks", "Heavy rain streaks")
    second = DINER.replace("Mara runs to the car.", "Mara sprints to the car.")
    assert send(client, dana, "put", f"/scripts/{script.id}",
                {"text": first, "base_version": 1}).status_code == 200  # fmt: skip
    refused = send(
        client, arti, "put", f"/scripts/{script.id}", {"text": second, "base_version": 1}
    )
    assert refused.status_code == 409
    body = refused.json()
    assert "dana saved version 2" in body["detail"] and body["latest_version"] == 2
    assert body["latest_text"] == first and body["conflicts"] == 0
    # both edits survive in the merge: nothing lost
    assert "Heavy rain streaks" in body["merged"] and "Mara sprints" in body["merged"]
    script.refresh_from_db()
    assert script.version == 2 and script.source == first  # the refused save wrote nothing
    assert ScriptVersion.objects.filter(script=script).count() == 2
    again = send(client, arti, "put", f"/scripts/{script.id}",
                 {"text": body["merged"], "base_version": 2})  # fmt: skip
    assert again.status_code == 200 and again.json()["version"] == 3


def test_overlapping_edits_are_marked_as_conflicts(script, dana, arti):
    scripts.script_save(script=script, user=dana, text=DINER.replace("Not yet.", "No."),
                        base_version=1)  # fmt: skip
    with pytest.raises(scripts.ScriptConflict) as refused:
        scripts.script_save(script=script, user=arti, text=DINER.replace("Not yet.", "Never."),
                            base_version=1)  # fmt: skip
    assert refused.value.conflicts == 1
    assert "<<<<<<< yours\nNever.\n=======\nNo.\n>>>>>>> version 2" in refused.value.merged


def test_scenes_in_order_with_their_breakdown(client, script, dana):
    scenes = send(client, dana, "get", f"/scripts/{script.id}/scenes").json()
    assert [s["heading"] for s in scenes] == ["INT. DINER - NIGHT", "EXT. PARKING LOT - CONTINUOUS"]
    first = scenes[0]
    assert first["number"] == "1" and first["int_ext"] == "INT" and first["location"] == "DINER"
    assert first["time_of_day"] == "NIGHT" and first["characters"] == ["MARA", "JOHN"]
    assert first["estimated_seconds"] > 0
    assert set(first) >= {"id", "number", "heading", "int_ext", "location", "time_of_day",
                          "characters", "estimated_seconds"}  # fmt: skip


def test_characters_and_locations_found_in_the_script(client, script, project, dana):
    names = [
        c["name"] for c in send(client, dana, "get", f"/projects/{project.id}/characters").json()
    ]
    assert names == ["JOHN", "MARA"]
    assert set(Location.objects.filter(project=project).values_list("name", flat=True)) == {
        "DINER", "PARKING LOT"}  # fmt: skip
    mara = Character.objects.get(project=project, name="MARA")
    scripts.character_update(character=mara, description="thirties, red raincoat", seed=7)
    scripts.script_save(script=script, user=dana, text=DINER + "\nMARA\nGo!\n", base_version=1)
    mara.refresh_from_db()
    assert mara.description == "thirties, red raincoat" and mara.seed == 7  # never overwritten


def test_import_fdx_and_fountain(client, project, dana):
    fdx = b"""<?xml version="1.0" encoding="UTF-8"?>
<FinalDraft DocumentType="Script" Version="5"><Content>
<Paragraph Type="Scene Heading" Number="4A"><Text>inT. </Text><Text Style="AllCaps">sUTTER HOUSE - DAY</Text></Paragraph>
<Paragraph Type="Action"><Text>Dust in the light.</Text></Paragraph>
</Content></FinalDraft>"""
    made = send(client, dana, "post", f"/projects/{project.id}/scripts/import",
                data={"file": _upload("sutter.fdx", fdx)})  # fmt: skip
    assert made.status_code == 201
    script = Script.objects.get(pk=made.json()["id"])
    assert script.format == "fdx" and "INT. SUTTER HOUSE - DAY #4A#" in script.source
    scene = script.scenes.get()
    assert (scene.number, scene.location, scene.time_of_day) == ("4A", "SUTTER HOUSE", "DAY")
    plain = send(client, dana, "post", f"/projects/{project.id}/scripts/import",
                 data={"file": _upload("pilot.fountain", DINER.encode())})  # fmt: skip
    assert plain.status_code == 201 and plain.json()["title"] == "Night Shift"


def _upload(name, data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


@pytest.mark.parametrize(
    "name, data, words",
    [
        ("big.fountain", b"INT. A - DAY\n\n" + b"x" * (20 * 1024 * 1024), "at most 5 MB"),
        ("noise.fountain", bytes(range(256)) * 40, "not"),
        ("latin.txt", "INT. CAF\u00c9 - DAY\n".encode("latin-1"), "UTF-8"),
        ("broken.fdx", b"<FinalDraft><Content><Paragraph Type='Action'><Text>hi</Content>", "damaged"),
        ("bomb.fdx", b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
         b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><FinalDraft>&b;</FinalDraft>', "refuses"),
        ("xxe.fdx", b'<?xml version="1.0"?><!DOCTYPE f [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
         b"<FinalDraft><Content><Paragraph Type='Action'><Text>&x;</Text></Paragraph></Content>"
         b"</FinalDraft>", "refuses"),
        ("movie.pdf", b"%PDF-1.4", ".fdx"),
    ],
)  # fmt: skip
def test_bad_files_are_refused_and_nothing_is_written(client, project, dana, name, data, words):
    answer = send(client, dana, "post", f"/projects/{project.id}/scripts/import",
                  data={"file": _upload(name, data)})  # fmt: skip
    assert answer.status_code in (413, 422)
    assert words in str(answer.json()["detail"])
    assert "root:" not in str(answer.json())
    assert not Script.objects.exists() and not Character.objects.exists()


def test_non_members_get_404_and_viewers_cannot_save(client, script, vic, olga):
    for path in (f"/scripts/{script.id}", f"/scripts/{script.id}/scenes",
                 f"/projects/{script.project_id}/characters", f"/scripts/{script.id}/versions"):  # fmt: skip
        assert send(client, olga, "get", path).status_code == 404
    assert send(client, olga, "put", f"/scripts/{script.id}",
                {"text": "x", "base_version": 1}).status_code == 404  # fmt: skip
    assert send(client, vic, "get", f"/scripts/{script.id}").status_code == 200
    assert send(client, vic, "put", f"/scripts/{script.id}",
                {"text": "x", "base_version": 1}).status_code == 403  # fmt: skip
    scene = script.scenes.first()
    assert send(client, olga, "post", f"/scenes/{scene.id}/storyboard").status_code == 404
    assert send(client, vic, "post", f"/scenes/{scene.id}/storyboard").status_code == 403
    script.refresh_from_db()
    assert script.version == 1


def test_diff_and_restore(client, script, dana):
    scripts.script_save(script=script, user=dana, text=DINER.replace("Not yet.", "Now."),
                        base_version=1)  # fmt: skip
    rows = send(client, dana, "get", f"/scripts/{script.id}/diff?a=1&b=2").json()
    assert {"op": "-", "old": 13, "new": None, "text": "Not yet."} in rows
    assert {"op": "+", "old": None, "new": 13, "text": "Now."} in rows
    restored = send(client, dana, "post", f"/scripts/{script.id}/restore", {"number": 1}).json()
    assert restored["version"] == 3 and restored["text"] == DINER
    assert ScriptVersion.objects.get(script=script, number=3).note == "Restored version 1"


# --- storyboard this scene -----------------------------------------------------------------


def test_storyboard_this_scene_suggests_linked_panels(client, script, dana):
    scene = script.scenes.get(position=0)
    made = send(client, dana, "post", f"/scenes/{scene.id}/storyboard")
    assert made.status_code == 201
    board = made.json()
    panels = board["panels"]
    assert len(panels) >= 2 and all(p["script_status"] == "linked" for p in panels)
    assert panels[0]["shot_type"] in ("ws", "ews") and "diner" in panels[0]["prompt"].lower()
    spoken = [p for p in panels if p["dialogue"]]
    assert spoken and "MARA\n(quietly)\nWe should go." in spoken[0]["dialogue"]
    assert Storyboard.objects.get(pk=board["id"]).scene == scene
    listed = send(client, dana, "get", f"/scripts/{script.id}/scenes").json()[0]
    assert listed["storyboards"] == [board["id"]] and listed["panels"] == len(panels)
    assert listed["panel_seconds"] == sum(p["duration_ms"] for p in panels) / 1000
    assert (
        send(client, dana, "get", f"/scripts/{script.id}").json()["estimated_seconds"]
        > listed["estimated_seconds"]
    )  # two scenes and more
    again = send(client, dana, "get", f"/storyboards/{board['id']}").json()
    assert [p["script_status"] for p in again["panels"]] == ["linked"] * len(panels)


def test_panel_breaks_marked_in_the_script_are_honoured(project, dana):
    text = """INT. VAULT - NIGHT

The door swings open.

[[panel: CU on the lock]]

Sparks. The lock melts.

[[panel]]

MARA
Now.
"""
    script = scripts.script_create(project=project, user=dana, title="Vault", text=text)
    board = scripts.storyboard_from_scene(scene=script.scenes.get(), user=dana)
    panels = list(board.panels.order_by("position"))
    assert [p.action for p in panels] == ["The door swings open.", "Sparks. The lock melts.", ""]
    assert panels[1].shot_type == "cu" and panels[1].notes == "CU on the lock"
    assert panels[2].dialogue == "MARA\nNow."


# --- panels follow the script ----------------------------------------------------------------


@pytest.fixture
def board(script, dana):
    return scripts.storyboard_from_scene(scene=script.scenes.get(position=0), user=dana)


def _statuses(board):
    return {p.action or p.dialogue: p.script_status for p in Panel.objects.filter(storyboard=board)}


def test_lines_added_above_keep_every_panel_linked_with_shifted_lines(script, board, dana):
    before = {p.id: p.script_first_line for p in board.panels.all()}
    text = DINER.replace("INT. DINER", "A prologue line.\n\nINT. DINER", 1)
    scripts.script_save(script=script, user=dana, text=text, base_version=1)
    for panel in board.panels.all():
        assert panel.script_status == "linked"
        assert panel.script_first_line == before[panel.id] + 2


def test_an_edit_flags_changed_and_resync_takes_the_new_text(client, script, board, dana):
    spoken = board.panels.exclude(dialogue="").first()
    spoken.notes = "keep my note"
    spoken.save()
    text = DINER.replace("We should go.", "We have to go. Now.")
    scripts.script_save(script=script, user=dana, text=text, base_version=1)
    spoken.refresh_from_db()
    assert spoken.script_status == "changed"
    assert "We should go." in spoken.dialogue  # nothing changes until someone decides
    others = board.panels.exclude(pk=spoken.pk)
    assert set(others.values_list("script_status", flat=True)) == {"linked"}
    answer = send(client, dana, "post", f"/panels/{spoken.id}/resync")
    assert answer.status_code == 200 and answer.json()["script_status"] == "linked"
    spoken.refresh_from_db()
    assert "We have to go. Now." in spoken.dialogue and spoken.notes == "keep my note"
    assert send(client, dana, "post", f"/panels/{spoken.id}/resync").status_code == 409


def test_a_cut_flags_removed_and_the_panel_is_kept(client, script, board, dana):
    spoken = board.panels.exclude(dialogue="").first()
    count = board.panels.count()
    text = DINER.replace("MARA\n(quietly)\nWe should go.\n\nJOHN\nNot yet.\n\n", "")
    scripts.script_save(script=script, user=dana, text=text, base_version=1)
    spoken.refresh_from_db()
    assert spoken.script_status == "removed" and "We should go." in spoken.dialogue
    assert board.panels.count() == count  # a script change never deletes a panel
    assert send(client, dana, "post", f"/panels/{spoken.id}/resync").status_code == 409
    # restoring the script brings the link back
    scripts.script_restore(script=script, user=dana, number=1)
    spoken.refresh_from_db()
    assert spoken.script_status == "linked"


def test_keep_accepts_a_change_without_taking_it(script, board, dana):
    spoken = board.panels.exclude(dialogue="").first()
    scripts.script_save(script=script, user=dana,
                        text=DINER.replace("Not yet.", "Not now."), base_version=1)  # fmt: skip
    spoken.refresh_from_db()
    assert spoken.script_status == "changed"
    scripts.panel_keep(panel=spoken)
    spoken.refresh_from_db()
    assert spoken.script_status == "linked" and "Not yet." in spoken.dialogue


def test_moved_content_is_followed(script, board, dana):
    action = board.panels.get(action__startswith="Rain")
    text = DINER.replace("Rain streaks the windows. MARA slides into a booth.\n\n", "")
    text = text.replace("Mara runs to the car.", "Mara runs to the car.\n\n"
                        "Rain streaks the windows. MARA slides into a booth.")  # fmt: skip
    scripts.script_save(script=script, user=dana, text=text, base_version=1)
    action.refresh_from_db()
    assert action.script_status == "linked" and action.script_last_line > 15


def test_heading_edit_keeps_the_scene_and_its_boards(script, board, dana):
    scene = board.scene
    scripts.script_save(script=script, user=dana,
                        text=DINER.replace("INT. DINER - NIGHT", "INT. DINER - DAWN"), base_version=1)  # fmt: skip
    scene.refresh_from_db()
    assert scene.time_of_day == "DAWN" and not scene.removed
    assert Scene.objects.filter(script=script, removed=False).count() == 2


def test_a_status_change_reaches_open_boards_live(
    script, board, dana, django_capture_on_commit_callbacks
):
    from unittest import mock

    with mock.patch("storyboards.scripts.publish") as publish, \
            django_capture_on_commit_callbacks(execute=True):  # fmt: skip
        scripts.script_save(script=script, user=dana,
                            text=DINER.replace("Not yet.", "Not now."), base_version=1)  # fmt: skip
    spoken = board.panels.exclude(dialogue="").first()
    told = [c.args for c in publish.call_args_list if c.args[1] == "panel.updated"]
    assert told == [(board.id, "panel.updated", {"panel": spoken.id})]


# --- the board shows it ----------------------------------------------------------------------


def test_board_card_and_inspector_show_a_changed_panel_with_both_texts(
    client, script, board, dana, vic
):
    spoken = board.panels.exclude(dialogue="").first()
    scripts.script_save(script=script, user=dana,
                        text=DINER.replace("Not yet.", "Not tonight."), base_version=1)  # fmt: skip
    client.force_login(dana)
    page = client.get(f"/storyboards/{board.id}/").content.decode()
    assert page.count("Script changed") == 1
    inspector = client.get(f"/panels/{spoken.id}/inspector/").content.decode()
    assert (
        "Not yet." in inspector
        and "Not tonight." in inspector
        and "Re-sync from script" in inspector
    )
    answer = client.post(f"/panels/{spoken.id}/resync/", HTTP_HX_REQUEST="true")
    assert answer.status_code == 200 and "Re-sync from script" not in answer.content.decode()
    spoken.refresh_from_db()
    assert "Not tonight." in spoken.dialogue and spoken.script_status == "linked"
    client.force_login(vic)  # a viewer sees the flag's story but no buttons, and cannot decide
    scripts.script_save(script=script, user=dana, text=DINER, base_version=2)
    viewer = client.get(f"/panels/{spoken.id}/inspector/").content.decode()
    assert "The script now says" in viewer and "Re-sync from script" not in viewer
    assert client.post(f"/panels/{spoken.id}/resync/").status_code == 403


def test_a_removed_panel_can_be_kept_unlinked(client, script, board, dana):
    spoken = board.panels.exclude(dialogue="").first()
    text = DINER.replace("MARA\n(quietly)\nWe should go.\n\nJOHN\nNot yet.\n\n", "")
    scripts.script_save(script=script, user=dana, text=text, base_version=1)
    client.force_login(dana)
    assert "Removed from script" in client.get(f"/storyboards/{board.id}/").content.decode()
    assert client.post(f"/panels/{spoken.id}/keep/").status_code == 200
    spoken.refresh_from_db()
    assert spoken.script_status == "" and spoken.script_elements == [] and spoken.dialogue


# --- styles and references -----------------------------------------------------------------


def test_style_per_board_with_a_per_panel_override(client, project, storyboard, panel, dana, olga):
    sketch = scripts.style_preset_create(project=project, name="Graphite sketch",
                                         prompt="graphite storyboard sketch, loose lines")  # fmt: skip
    ink = send(client, dana, "post", f"/projects/{project.id}/styles",
               {"name": "Ink wash", "prompt": "ink wash"}).json()  # fmt: skip
    board = send(
        client, dana, "patch", f"/storyboards/{storyboard.id}", {"style_preset": sketch.id}
    )
    assert board.status_code == 200 and board.json()["style_preset"] == sketch.id
    patched = send(client, dana, "patch", f"/panels/{panel.id}", {"style_preset": ink["id"]})
    assert patched.status_code == 200 and patched.json()["style_preset"] == ink["id"]
    # a rename leaves the style alone; another project's style is refused
    assert send(client, dana, "patch", f"/storyboards/{storyboard.id}",
                {"title": "Renamed"}).json()["style_preset"] == sketch.id  # fmt: skip
    other = boards_project(olga)
    theirs = scripts.style_preset_create(project=other, name="Theirs", prompt="x")
    refused = send(client, dana, "patch", f"/panels/{panel.id}", {"style_preset": theirs.id})
    assert refused.status_code == 422 and "style of this project" in str(refused.json())
    panel.refresh_from_db()
    assert panel.style_preset_id == ink["id"]
    client.force_login(dana)
    form = client.post(f"/panels/{panel.id}/edit/", {"style_preset": ""}, HTTP_HX_REQUEST="true")
    assert form.status_code < 400
    panel.refresh_from_db()
    assert panel.style_preset_id is None
    assert "Graphite sketch" in client.get(f"/panels/{panel.id}/inspector/").content.decode()


def boards_project(user):
    from storyboards import services

    return services.project_create(user=user, name="Elsewhere")


def test_reference_images_are_served_to_members_only(client, script, project, dana, olga):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    mara = Character.objects.get(project=project, name="MARA")
    answer = send(client, dana, "post", f"/characters/{mara.id}/reference",
                  data={"file": SimpleUploadedFile("mara.png", buffer.getvalue())})  # fmt: skip
    assert answer.status_code == 200
    url = answer.json()["reference_url"]
    assert url.startswith("/media/references/")
    client.force_login(dana)
    assert client.get(url).status_code == 200
    client.force_login(olga)
    assert client.get(url).status_code == 404
    bad = send(client, dana, "post", f"/characters/{mara.id}/reference",
               data={"file": SimpleUploadedFile("mara.png", b"not an image")})  # fmt: skip
    assert bad.status_code == 422 and "PNG, JPEG or WebP" in str(bad.json())
    mara.refresh_from_db()
    assert mara.reference.name == url.removeprefix("/media/")


def test_odd_input_on_every_script_endpoint_is_a_clear_4xx(client, script, project, dana):
    scene = script.scenes.first()
    character = Character.objects.filter(project=project).first()
    paths = [
        ("post", f"/projects/{project.id}/scripts"), ("put", f"/scripts/{script.id}"),
        ("post", f"/scripts/{script.id}/restore"), ("post", f"/projects/{project.id}/characters"),
        ("patch", f"/characters/{character.id}"), ("post", f"/projects/{project.id}/styles"),
        ("post", f"/projects/{project.id}/locations"), ("post", f"/projects/{project.id}/scripts/import"),
    ]  # fmt: skip
    bodies = [{}, {"text": None}, {"title": "x\x00y", "text": "a"}, {"base_version": 2**40, "text": ""},
              {"base_version": "one", "text": 3}, {"number": -1}, {"name": "", "prompt": "x"},
              {"seed": -5}, {"seed": 2**64}, {"name": "A" * 500, "description": "d"},
              {"text": "ok", "base_version": 0}]  # fmt: skip
    for method, path in paths:
        for body in bodies:
            answer = send(client, dana, method, path, body)
            if method == "patch":  # fields it does not know are ignored: a no-op
                assert answer.status_code in (200, 422), (path, body, answer.status_code)
                continue
            assert 400 <= answer.status_code < 500, (method, path, body, answer.status_code)
    for path in (f"/scripts/{script.id}/diff?a=1&b=99", f"/scripts/{script.id}/diff?a=x&b=1",
                 f"/scripts/{script.id}/versions/99", f"/scripts/{2**62}", f"/scenes/{2**62}/storyboard"):  # fmt: skip
        answer = send(client, dana, "get" if "scenes/" not in path else "post", path)
        assert answer.status_code in (404, 422), (path, answer.status_code)
    script.refresh_from_db()
    character.refresh_from_db()
    assert script.version == 1 and scene.storyboards.count() == 0
    assert character.seed is None  # -5 and 2**64 were refused


# --- repeated lines (real scripts repeat "Yes." and headings) ----------------------------------


def test_a_cut_speech_that_another_repeats_is_flagged_removed(project, dana):
    text = "INT. KITCHEN - DAY\n\nMARA\nYes.\n\nJOHN\nNo.\n\nMARA\nYes.\n\nJOHN\nFine.\n"
    script = scripts.script_create(project=project, user=dana, title="Twice", text=text)
    board = scripts.storyboard_from_scene(scene=script.scenes.get(), user=dana)
    spoken = [p for p in board.panels.order_by("position") if p.dialogue]
    first = spoken[0]
    assert first.dialogue.startswith("MARA\nYes.")
    cut = text.replace("MARA\nYes.\n\nJOHN\nNo.\n\n", "", 1)
    scripts.script_save(script=script, user=dana, text=cut, base_version=1)
    first.refresh_from_db()
    # Which of two identical exchanges went cannot be known from the text: whatever the diff
    # picks, the panel that lost lines is flagged, never silently re-pointed at the twin.
    assert first.script_status in ("changed", "removed")
    claimed = [i for p in board.panels.all() for i in p.script_elements]
    assert len(claimed) == len(set(claimed))  # no two panels on the same lines


def test_identical_headings_keep_their_own_boards_through_a_cut_and_a_restore(project, dana):
    text = "".join(
        f"INT. KITCHEN - DAY\n\n{name} waits.\n\n" for name in ("Alpha", "Beta", "Gamma")
    )
    script = scripts.script_create(project=project, user=dana, title="Kitchens", text=text)
    rows = list(script.scenes.order_by("position"))
    boards = {r.pk: scripts.storyboard_from_scene(scene=r, user=dana) for r in rows}
    scripts.script_save(script=script, user=dana, text=text.replace(
        "INT. KITCHEN - DAY\n\nAlpha waits.\n\n", ""), base_version=1)  # fmt: skip
    scripts.script_restore(script=script, user=dana, number=1)
    for row in rows:
        row.refresh_from_db()
    assert [r.removed for r in rows] == [False, False, False]
    assert [r.position for r in rows] == [0, 1, 2]
    assert script.scenes.count() == 3
    assert all(boards[r.pk].scene_id == r.pk for r in rows)


def test_a_rewrite_of_thousands_of_elements_follows_by_anchors(script, board, dana, monkeypatch):
    monkeypatch.setattr(scripts, "LARGE_EDIT", 2)  # the linear path, on a small script
    spoken = board.panels.exclude(dialogue="").first()
    action = board.panels.get(action__startswith="Rain")
    text = "A prologue.\n\n" + DINER.replace("Not yet.", "Not now.")
    scripts.script_save(script=script, user=dana, text=text, base_version=1)
    spoken.refresh_from_db()
    action.refresh_from_db()
    assert spoken.script_status == "changed" and action.script_status == "linked"
    assert action.script_first_line == 6  # shifted by the two lines added above
