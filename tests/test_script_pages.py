"""Script, breakdown and cast pages (issue 10): what each page shows, who may do what, and
that a refused save leaves everything as it was."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from storyboards import scripts, services
from storyboards.models import Character, Location, Script, StylePreset

pytestmark = pytest.mark.django_db

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

FDX = b"""<?xml version="1.0" encoding="UTF-8"?>
<FinalDraft DocumentType="Script" Version="5"><Content>
<Paragraph Type="Scene Heading"><Text>INT. SUTTER HOUSE - DAY</Text></Paragraph>
<Paragraph Type="Action"><Text>Dust in the light.</Text></Paragraph>
<Paragraph Type="Character"><Text>SUTTER</Text></Paragraph>
<Paragraph Type="Dialogue"><Text>Gold.</Text></Paragraph>
</Content></FinalDraft>"""


@pytest.fixture
def script(project, dana):
    return scripts.script_create(project=project, user=dana, title="Night Shift", text=DINER)


def page(client, user, path):
    client.force_login(user)
    response = client.get(path)
    return response, response.content.decode()


def script_pages(script) -> dict[str, str]:
    """Every page and something only it shows."""
    return {
        f"/scripts/{script.id}/": "INT. DINER - NIGHT</p>",
        f"/scripts/{script.id}/breakdown/": "PARKING LOT</span>",
        f"/scripts/{script.id}/diff/?a=1&b=1": "Pick two different versions",
        f"/scripts/{script.id}/versions/1/": "<strong>Version 1</strong>",
        f"/scripts/{script.id}/versions/": "<strong>v1</strong>",
        f"/scripts/{script.id}/export.fountain": "We should go.",
        f"/projects/{script.project_id}/cast/": "<strong>MARA</strong>",
        f"/projects/{script.project_id}/scripts/": "v1 · 2 scenes",
    }


# --- access ------------------------------------------------------------------------------


def test_every_page_renders_for_a_member_and_is_404_for_an_outsider(client, script, vic, olga):
    for path, shows in script_pages(script).items():
        response, body = page(client, vic, path)
        assert response.status_code == 200, path
        assert shows in body, path
    for path in script_pages(script):
        assert page(client, olga, path)[0].status_code == 404, path


def test_every_change_is_404_for_an_outsider_and_nothing_changes(client, script, olga):
    client.force_login(olga)
    mara = Character.objects.get(name="MARA")
    scene = script.scenes.first()
    posts = [
        (f"/scripts/{script.id}/save/", {"text": "stolen", "base_version": "1"}),
        (f"/scripts/{script.id}/preview/", {"text": "INT. X - DAY"}),
        (f"/scripts/{script.id}/restore/", {"number": "1"}),
        (f"/scripts/{script.id}/rename/", {"title": "Mine"}),
        (f"/scripts/{script.id}/delete/", {}),
        (f"/scenes/{scene.id}/storyboard/", {}),
        (f"/characters/{mara.id}/", {"description": "stolen"}),
        (f"/projects/{script.project_id}/scripts/new/", {"title": "Mine"}),
    ]
    for path, data in posts:
        assert client.post(path, data).status_code == 404, path
    script.refresh_from_db()
    mara.refresh_from_db()
    assert (script.title, script.version, mara.description) == ("Night Shift", 1, "")


def test_a_viewer_sees_no_save_button_and_cannot_save(client, script, vic):
    response, body = page(client, vic, f"/scripts/{script.id}/")
    assert 'id="save-button"' not in body and "readonly" in body
    assert "Read only: your role cannot edit scripts." in body
    answer = client.post(f"/scripts/{script.id}/save/", {"text": "VIC WAS HERE", "base_version": 1})
    assert answer.status_code == 403
    script.refresh_from_db()
    assert script.version == 1 and "VIC WAS HERE" not in script.source
    assert "Storyboard this scene" not in page(client, vic, f"/scripts/{script.id}/breakdown/")[1]


def test_only_a_director_or_owner_may_delete_a_script(client, script, arti, dana):
    client.force_login(arti)
    assert "Delete script" not in client.get(f"/scripts/{script.id}/").content.decode()
    assert client.post(f"/scripts/{script.id}/delete/").status_code == 403
    assert Script.objects.filter(pk=script.pk).exists()
    client.force_login(dana)
    response = client.post(f"/scripts/{script.id}/delete/")
    assert response.status_code == 302 and response["Location"] == f"/projects/{script.project_id}/"
    assert not Script.objects.filter(pk=script.pk).exists()


# --- the editor --------------------------------------------------------------------------


def test_the_editor_shows_the_source_the_printed_page_and_who_saved(client, script, dana):
    response, body = page(client, dana, f"/scripts/{script.id}/")
    assert 'id="save-button"' in body and 'id="version-badge"' in body and ">v1<" in body
    assert "Rain streaks the *windows*." in body  # the textarea holds the Fountain source
    assert 'class="sp sp-heading"' in body and "INT. DINER - NIGHT" in body
    assert "Rain streaks the <i>windows</i>." in body  # the preview prints emphasis
    assert '<span class="sp-note-inline">[[rain machine?]]</span>' in body
    cut = DINER.split("\n").index("CUT TO:") + 1
    assert f'class="sp sp-transition" data-line="{cut}">CUT TO:' in body
    assert "Saved by <strong>dana</strong>" in body and "2 scenes" in body


def test_preview_renders_headings_cues_and_escapes_the_rest(client, script, arti):
    client.force_login(arti)
    text = "EXT. ROOF - DAWN\n\nA <b>bold</b> **claim**.\n\nBOB (V.O.)\n(whispers)\nHello.\n"
    response = client.post(f"/scripts/{script.id}/preview/", {"text": text})
    body = response.content.decode()
    assert response.status_code == 200
    assert '<p class="sp sp-heading" data-line="1">EXT. ROOF - DAWN</p>' in body
    assert '<p class="sp sp-character" data-line="5">BOB (V.O.)</p>' in body
    assert 'class="sp sp-parenthetical" data-line="6">(whispers)' in body
    assert 'class="sp sp-dialogue" data-line="7">Hello.' in body
    assert "A &lt;b&gt;bold&lt;/b&gt; <b>claim</b>." in body  # typed HTML is text
    assert Script.objects.get(pk=script.pk).version == 1  # a preview saves nothing


def test_preview_marks_unresolved_conflicts(client, script, arti):
    client.force_login(arti)
    text = "INT. A - DAY\n\n<<<<<<< yours\nMine.\n=======\nTheirs.\n>>>>>>> version 2\n"
    body = client.post(f"/scripts/{script.id}/preview/", {"text": text}).content.decode()
    assert "1 conflict marked" in body and "sp-in-conflict" in body


def test_save_makes_a_new_version_and_answers_its_number(client, script, arti):
    client.force_login(arti)
    text = DINER + "\nINT. CAR - NIGHT\n\nSilence.\n"
    answer = client.post(f"/scripts/{script.id}/save/", {"text": text, "base_version": 1})
    assert answer.status_code == 200
    assert answer.json() | {"at": None} == {"version": 2, "by": "arti", "note": "", "scenes": 3,
                                            "at": None}  # fmt: skip
    script.refresh_from_db()
    assert script.version == 2 and script.source == text


def test_a_stale_save_is_409_with_the_conflict_and_changes_nothing(client, script, dana, arti):
    theirs = DINER.replace("We should go.", "We should leave.")
    scripts.script_save(script=script, user=dana, text=theirs, base_version=1)
    client.force_login(arti)
    mine = DINER.replace("We should go.", "We should run.")
    answer = client.post(f"/scripts/{script.id}/save/", {"text": mine, "base_version": 1})
    assert answer.status_code == 409
    conflict = answer.json()
    assert conflict["detail"].startswith("dana saved version 2 while you were editing.")
    assert (conflict["latest"], conflict["by"], conflict["conflicts"]) == (2, "dana", 1)
    merged = "<<<<<<< yours\nWe should run.\n=======\nWe should leave.\n>>>>>>> version 2"
    assert merged in conflict["merged"]
    script.refresh_from_db()
    assert (script.version, script.source) == (2, theirs)
    # "Keep mine on top": the same text on top of version 2 is a plain save.
    again = client.post(f"/scripts/{script.id}/save/", {"text": mine, "base_version": 2})
    assert again.status_code == 200 and again.json()["version"] == 3


def test_a_save_with_a_bad_base_version_is_422(client, script, arti):
    client.force_login(arti)
    answer = client.post(f"/scripts/{script.id}/save/", {"text": "x", "base_version": "latest"})
    assert answer.status_code == 422 and "number" in answer.json()["detail"]


def test_export_is_the_fountain_text_as_an_attachment(client, script, vic):
    response, body = page(client, vic, f"/scripts/{script.id}/export.fountain")
    assert response["Content-Disposition"] == 'attachment; filename="night-shift.fountain"'
    assert body == DINER


def test_rename(client, script, arti):
    client.force_login(arti)
    client.post(f"/scripts/{script.id}/rename/", {"title": "Day Shift"})
    assert Script.objects.get(pk=script.pk).title == "Day Shift"
    client.post(f"/scripts/{script.id}/rename/", {"title": "  "})
    assert Script.objects.get(pk=script.pk).title == "Day Shift"


# --- versions ----------------------------------------------------------------------------


def test_diff_shows_an_added_line_with_its_number(client, script, dana):
    text = DINER + "\nThe neon sign dies.\n"
    scripts.script_save(script=script, user=dana, text=text, base_version=1)
    response, body = page(client, dana, f"/scripts/{script.id}/diff/?a=1&b=2")
    added = next(row for row in body.split('<tr class="diff-add">')[1:] if "neon" in row)
    line = text.split("\n").index("The neon sign dies.") + 1
    assert "The neon sign dies." in added and f'<td class="ln">{line}</td>' in added
    assert '<span class="diff-added-count">+2</span>' in body  # the blank line and the sentence
    assert '<tr class="diff-del">' not in body


def test_an_unknown_version_is_404(client, script, dana):
    client.force_login(dana)
    assert client.get(f"/scripts/{script.id}/diff/?a=1&b=9").status_code == 404
    assert client.get(f"/scripts/{script.id}/diff/?a=x").status_code == 404
    assert client.get(f"/scripts/{script.id}/versions/9/").status_code == 404


def test_a_version_page_shows_its_text_and_offers_restore(client, script, dana):
    scripts.script_save(script=script, user=dana, text="INT. VOID - DAY\n", base_version=1)
    response, body = page(client, dana, f"/scripts/{script.id}/versions/1/")
    assert "Version 1" in body and "We should go." in body and "Restore this version" in body
    assert "Restore this version" not in page(client, dana, f"/scripts/{script.id}/versions/2/")[1]


def test_restore_makes_a_new_version_with_the_old_text(client, script, dana):
    scripts.script_save(script=script, user=dana, text="INT. VOID - DAY\n", base_version=1)
    client.force_login(dana)
    response = client.post(f"/scripts/{script.id}/restore/", {"number": 1})
    assert response.status_code == 302
    script.refresh_from_db()
    assert script.version == 3 and script.source == DINER
    assert script.versions.get(number=3).note == "Restored version 1"
    body = client.get(response["Location"]).content.decode()
    assert "Version 1 restored as version 3." in body


def test_a_viewer_cannot_restore(client, script, dana, vic):
    scripts.script_save(script=script, user=dana, text="INT. VOID - DAY\n", base_version=1)
    client.force_login(vic)
    assert client.post(f"/scripts/{script.id}/restore/", {"number": 1}).status_code == 403
    assert Script.objects.get(pk=script.pk).version == 2


# --- new scripts ---------------------------------------------------------------------------


def test_the_project_page_offers_scripts_and_lists_them(client, script, dana):
    response, body = page(client, dana, f"/projects/{script.project_id}/")
    assert "New script" in body and "Import .fountain/.fdx" in body and "Cast &amp; style" in body
    listing = page(client, dana, f"/projects/{script.project_id}/scripts/")[1]
    assert "Night Shift" in listing and "v1 · 2 scenes" in listing


def test_create_a_script_opens_the_editor(client, project, arti):
    client.force_login(arti)
    response = client.post(f"/projects/{project.id}/scripts/new/",
                           {"title": "Pilot", "text": "INT. LAB - DAY\n"})  # fmt: skip
    made = Script.objects.get(title="Pilot")
    assert response["Location"] == f"/scripts/{made.id}/"
    assert made.scenes.get().heading == "INT. LAB - DAY"


def test_import_an_fdx_opens_the_editor(client, project, arti):
    client.force_login(arti)
    upload = SimpleUploadedFile("sutter.fdx", FDX)
    response = client.post(f"/projects/{project.id}/scripts/import/", {"file": upload})
    made = Script.objects.get(project=project)
    assert response["Location"] == f"/scripts/{made.id}/" and made.format == "fdx"
    body = client.get(response["Location"]).content.decode()
    assert f"Imported “{made.title}”: 1 scene." in body
    assert (
        '<p class="sp sp-character"' in body and "SUTTER" in body and "Dust in the light." in body
    )


def test_a_bad_file_is_refused_with_a_clear_message_on_the_project_page(client, project, arti):
    client.force_login(arti)
    upload = SimpleUploadedFile("pilot.pdf", b"%PDF-1.4 not a script")
    response = client.post(f"/projects/{project.id}/scripts/import/", {"file": upload}, follow=True)
    body = response.content.decode()
    assert response.redirect_chain[-1][0] == f"/projects/{project.id}/"
    assert "The file was not imported:" in body and ".fdx" in body
    assert not Script.objects.filter(project=project).exists()
    missing = client.post(f"/projects/{project.id}/scripts/import/", {}, follow=True)
    assert "Choose a .fountain, .txt or .fdx file" in missing.content.decode()


# --- breakdown -----------------------------------------------------------------------------


def test_breakdown_lists_scenes_with_their_estimates_and_total(client, script, dana):
    response, body = page(client, dana, f"/scripts/{script.id}/breakdown/")
    rows = body.split("<tbody>")[1].split("</tbody>")[0]
    assert rows.index("DINER") < rows.index("PARKING LOT")
    assert '<span class="tag">MARA</span><span class="tag">JOHN</span>' in rows
    assert "NIGHT" in rows and "CONTINUOUS" in rows and "Not storyboarded" in rows
    assert rows.count("Storyboard this scene") == 2
    total = round(sum(s.estimated_seconds for s in script.scenes.all()))
    assert "Total (2 scenes)" in body and f'<th class="num">0:{total:02d}</th>' in body


def test_storyboard_this_scene_redirects_to_a_board_with_panels(client, script, arti):
    client.force_login(arti)
    scene = script.scenes.get(location="DINER")
    response = client.post(f"/scenes/{scene.id}/storyboard/")
    board = scene.storyboards.get()
    assert response.status_code == 302 and response["Location"] == f"/storyboards/{board.id}/"
    assert board.panels.count() >= 2
    body = page(client, arti, f"/scripts/{script.id}/breakdown/")[1]
    assert f'href="/storyboards/{board.id}/"' in body
    assert f"{board.panels.count()} panels" in body and "Another board" in body


def test_a_cut_scene_with_boards_shows_dimmed(client, script, dana):
    scene = script.scenes.get(location="PARKING LOT")
    scripts.storyboard_from_scene(scene=scene, user=dana)
    scripts.script_save(script=script, user=dana, text=DINER.split("EXT. PARKING")[0],
                        base_version=1)  # fmt: skip
    body = page(client, dana, f"/scripts/{script.id}/breakdown/")[1]
    row = body.split(f'id="scene-{scene.id}"')[0].rsplit("<tr", 1)[1]
    assert 'class="scene-removed"' in row
    assert "cut from script" in body.split(f'id="scene-{scene.id}"')[1].split("</tr>")[0]
    client.force_login(dana)
    refused = client.post(f"/scenes/{scene.id}/storyboard/", follow=True)
    assert "This scene was cut from the script." in refused.content.decode()


# --- cast & style --------------------------------------------------------------------------


def png() -> SimpleUploadedFile:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    return SimpleUploadedFile("mara.png", buffer.getvalue(), content_type="image/png")


def test_cast_page_lists_what_the_script_found(client, script, vic):
    response, body = page(client, vic, f"/projects/{script.project_id}/cast/")
    assert "MARA" in body and "JOHN" in body and "DINER" in body and "PARKING LOT" in body
    assert "from script" in body and "Read only" in body and "<textarea" not in body


def test_character_edits_persist_with_a_reference_image(client, script, arti):
    mara = Character.objects.get(name="MARA")
    client.force_login(arti)
    answer = client.post(f"/characters/{mara.id}/", {
        "description": "thirties, red raincoat", "seed": "1234", "reference": png(),
    }, headers={"HX-Request": "true"})  # fmt: skip
    mara.refresh_from_db()
    assert answer.status_code == 200 and "Saved" in answer.content.decode()
    assert (mara.description, mara.seed) == ("thirties, red raincoat", 1234)
    assert mara.reference.name.startswith("references/")
    assert f'src="/media/{mara.reference.name}"' in answer.content.decode()
    assert client.get(f"/media/{mara.reference.name}").status_code == 200
    # An empty seed unpins it; the description and image stay.
    client.post(f"/characters/{mara.id}/", {"description": "thirties, red raincoat", "seed": ""})
    mara.refresh_from_db()
    assert mara.seed is None and mara.reference


def test_a_bad_character_edit_shows_inline_and_changes_nothing(client, script, arti):
    mara = Character.objects.get(name="MARA")
    client.force_login(arti)
    answer = client.post(f"/characters/{mara.id}/", {"description": "new", "seed": "lucky"})
    assert answer.status_code == 422
    assert 'role="alert">A seed is a whole number (or empty).</p>' in answer.content.decode()
    bad_image = SimpleUploadedFile("x.png", b"not an image")
    answer = client.post(f"/characters/{mara.id}/", {"description": "new", "reference": bad_image})
    assert answer.status_code == 422 and "PNG, JPEG or WebP" in answer.content.decode()
    mara.refresh_from_db()
    assert (mara.description, mara.seed, mara.reference.name) == ("", None, "")


def test_characters_and_locations_can_be_added_and_described(client, project, arti):
    client.force_login(arti)
    made = client.post(f"/projects/{project.id}/cast/characters/", {"name": "ada lovelace"})
    assert made.status_code == 200 and "ADA LOVELACE" in made.content.decode()
    twice = client.post(f"/projects/{project.id}/cast/characters/", {"name": "Ada Lovelace"})
    assert twice.status_code == 409 and "already in the cast" in twice.content.decode()
    assert twice["HX-Retarget"] == "#character-create-notice"
    client.post(f"/projects/{project.id}/cast/locations/", {"name": "Lighthouse"})
    lighthouse = Location.objects.get(project=project, name="LIGHTHOUSE")
    client.post(f"/locations/{lighthouse.id}/", {"description": "white tower, 1890s"})
    lighthouse.refresh_from_db()
    assert lighthouse.description == "white tower, 1890s"


def test_style_presets_are_created_edited_and_deleted(client, project, arti, vic):
    client.force_login(arti)
    made = client.post(f"/projects/{project.id}/cast/styles/",
                       {"name": "Graphite", "prompt": "graphite sketch, loose lines"})  # fmt: skip
    preset = StylePreset.objects.get(project=project)
    assert made.status_code == 200 and f'id="style-{preset.id}"' in made.content.decode()
    client.post(f"/styles/{preset.id}/", {"name": "Graphite", "prompt": "charcoal",
                                         "negative_prompt": "colour"})  # fmt: skip
    preset.refresh_from_db()
    assert (preset.prompt, preset.negative_prompt) == ("charcoal", "colour")
    client.force_login(vic)
    assert client.post(f"/styles/{preset.id}/delete/").status_code == 403
    client.force_login(arti)
    assert client.post(f"/styles/{preset.id}/delete/").status_code == 200
    assert not StylePreset.objects.filter(pk=preset.pk).exists()


def test_a_board_made_elsewhere_is_untouched_by_the_cast_page(client, project, dana):
    services.storyboard_create(project=project, user=dana, title="Loose")
    body = page(client, dana, f"/projects/{project.id}/cast/")[1]
    assert "No characters yet" in body and "No styles yet" in body
