"""Project bundles: export, import into a new project without loss, and refusals that write nothing."""

import hashlib
import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from generation.models import Take
from storyboards import scripts
from storyboards import services as boards
from storyboards.bundle import BUNDLED, BundleError, _key_id, _seal, bundle_import, bundle_write
from storyboards.models import (
    Character,
    Comment,
    Location,
    Membership,
    Notification,
    Panel,
    Project,
    StatusChange,
    Storyboard,
)
from studio.bodylimit import body_limit

pytestmark = pytest.mark.django_db

PILOT = """Title: Night Shift

INT. DINER - NIGHT

MARA wipes the counter. Rain on the glass.

MARA
We're closed.

EXT. PARKING LOT - CONTINUOUS

A car idles, lights off.
"""


def png(shade: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (shade, 255 - shade, 90)).save(buffer, format="PNG")
    return buffer.getvalue()


def stored(folder: str, shade: int) -> str:
    return default_storage.save(f"{folder}/frame-{shade}.png", ContentFile(png(shade)))


def take(panel, author, **fields) -> Take:
    defaults = dict(
        model_key="tiny", model_source="builtin:tiny", model_revision="r1", prompt=panel.prompt,
        seed=42, steps=4, guidance=5.5, width=64, height=48, status="succeeded", progress=1.0,
        timings={"queue_wait_s": 0.25, "sampling_s": 1.125}, gpu_seconds=1.5, attempts=1,
        prompt_parts=[{"label": "prompt", "text": panel.prompt, "tokens": 7}],
        prompt_cut=["camera move cut to fit"], worker="gpu-1",
        started_at=timezone.now() - timedelta(seconds=3), finished_at=timezone.now(),
    )  # fmt: skip
    return Take.objects.create(panel=panel, author=author, **{**defaults, **fields})


@pytest.fixture
def seeded(project, dana, arti, vic):
    """Two scripts (one saved twice), cast with references, a style, two boards, panels (one
    deleted), takes with parents, retries, masks, failures, comments in a thread with a pinned
    area, mentions and a resolution, an inbox line and review decisions."""
    pilot = scripts.script_create(project=project, user=dana, title="Pilot", text=PILOT)
    scripts.script_save(script=pilot, user=arti, text=PILOT + "\nMARA\nGo home.\n",
                        base_version=1, note="Mara sends him off")  # fmt: skip
    scripts.script_create(
        project=project, user=arti, title="Tag", text="INT. CAR - NIGHT\n\nQuiet.\n"
    )
    mara = Character.objects.get(project=project, name="MARA")
    scripts.character_update(character=mara, description="forties, apron", seed=7,
                             reference=SimpleUploadedFile("mara.png", png(40), "image/png"))  # fmt: skip
    diner = Location.objects.get(project=project, name="DINER")
    scripts.location_update(location=diner, description="chrome and neon",
                            reference=SimpleUploadedFile("diner.png", png(60), "image/png"))  # fmt: skip
    style = scripts.style_preset_create(project=project, name="Graphite", prompt="pencil sketch")
    scene_board = scripts.storyboard_from_scene(scene=pilot.scenes.first(), user=dana)
    board = boards.storyboard_create(project=project, user=dana, title="Opening")
    Storyboard.objects.filter(pk=board.pk).update(style_preset=style)
    first = boards.panel_create(storyboard=board, user=dana, prompt="a diner at night, rain",
                                dialogue="We're closed.", duration_ms=3500)  # fmt: skip
    second = boards.panel_create(storyboard=board, user=arti, prompt="a car idles", shot_type="ws")
    gone = boards.panel_create(storyboard=board, user=arti, prompt="cut this")
    boards.panel_delete(panel=gone, by=arti)
    Panel.all_objects.filter(pk=second.pk).update(style_preset=style)

    original = take(first, arti, image=stored("takes", 1))
    variation = take(first, dana, tool="variation", parent=original, strength=0.6,
                     image=stored("takes", 2), seed=43)  # fmt: skip
    failed = take(second, arti, status="failed", progress=0.5, error="The GPU ran out of memory.",
                  error_detail="torch.OutOfMemoryError: ...", gpu_seconds=0.25)  # fmt: skip
    take(second, arti, retry_of=failed, image=stored("takes", 3), attempts=2)
    take(second, dana, tool="inpaint", parent=failed, mask=stored("masks", 4),
         image=stored("takes", 5), reference=mara.reference.name)  # fmt: skip
    take(gone, arti, status="cancelled", progress=0.2, note="Capped at 16 frames.")
    take(gone, arti, image=stored("takes", 6), video=default_storage.save("takes/clip.mp4",
         ContentFile(b"\x00\x00\x00\x18ftypmp42 not really a video")))  # fmt: skip
    Panel.all_objects.filter(pk=first.pk).update(selected_take=variation)

    director = Membership.objects.get(project=project, user=dana)
    boards.panel_set_status(panel=Panel.objects.get(pk=first.pk), membership=director,
                            status="approved")  # fmt: skip
    StatusChange.objects.create(panel=second, status="in_review", previous="draft", by=arti)

    root = Comment.objects.create(
        panel=first, take=original, author=vic, body="@arti the sign reads backwards",
        pin_x=0.25, pin_y=0.5, pin_w=0.125, pin_h=0.25, resolved_at=timezone.now(),
        resolved_by=dana,
    )  # fmt: skip
    root.mentions.set([arti])
    Comment.objects.create(panel=first, take=original, author=arti, body="Fixed.", reply_to=root)
    Comment.objects.create(panel=gone, author=dana, body="Why was this cut?")
    Notification.objects.create(user=arti, kind="mention", comment=root, actor=vic)
    assert scene_board.panels.exists()
    return project


def write(project, tmp_path, name="night-shift.zip"):
    out = tmp_path / name
    bundle_write(project=project, out_path=out)
    return out


def entries_of(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def zipped(entries: dict[str, bytes], tmp_path, name="changed.zip"):
    out = tmp_path / name
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry, data in entries.items():
            archive.writestr(entry, data)
    return out


def resealed(entries: dict, change, key_id=None) -> dict:
    """A bundle whose JSON was changed by someone holding this studio's key (or another's)."""
    bundle = json.loads(entries["bundle.json"])
    change(bundle)
    data = json.dumps(bundle).encode()
    digest = hashlib.sha256(data).hexdigest()
    seal = {"format": "slate-bundle-signature", "bundle_sha256": digest,
            "key_id": key_id or _key_id(), "hmac_sha256": _seal(digest)}  # fmt: skip
    return {**entries, "bundle.json": data, "SIGNATURE": json.dumps(seal).encode()}


def counts(settings) -> dict:
    rows = {model.__name__: model._base_manager.count() for model, _ in BUNDLED}
    files = [p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file()]
    return {**rows, "files": len(files)}


# --- round trip ------------------------------------------------------------------------------


def rows_of(project) -> dict:
    return {model: list(model._base_manager.filter(**{path: project.pk}).order_by("pk"))
            for model, path in BUNDLED}  # fmt: skip


def assert_same_project(before, after) -> None:
    """Every row of every model, field by field, ids mapped; every file byte for byte under a
    name of its own."""
    old, new = rows_of(before), rows_of(after)
    ids = {}
    for model, _ in BUNDLED:
        assert len(old[model]) == len(new[model]), model.__name__
        ids[model] = {o.pk: n.pk for o, n in zip(old[model], new[model], strict=True)}
    for model, _ in BUNDLED:
        for o, n in zip(old[model], new[model], strict=True):
            for f in model._meta.concrete_fields:
                if f.primary_key or (model is Project and f.name in ("name", "created_at")):
                    continue
                was, now = f.value_from_object(o), f.value_from_object(n)
                where = f"{model.__name__}.{f.name}"
                if f.is_relation and f.related_model in ids:
                    assert now == (ids[f.related_model][was] if was is not None else None), where
                elif f.get_internal_type() == "FileField":
                    assert bool(was) == bool(now), where
                    if was:
                        assert now.name != was.name, where
                        with (
                            default_storage.open(was.name) as a,
                            default_storage.open(now.name) as b,
                        ):
                            assert a.read() == b.read(), where
                else:
                    assert now == was, where
            for f in model._meta.many_to_many:
                if f.remote_field.through._meta.auto_created:
                    assert {u.pk for u in getattr(o, f.name).all()} == {
                        u.pk for u in getattr(n, f.name).all()
                    }


def test_a_project_comes_back_whole_as_a_new_project(seeded, dana, tmp_path):
    bundle = write(seeded, tmp_path)
    imported = bundle_import(upload=bundle, user=dana)
    assert imported.project.pk != seeded.pk
    assert imported.project.name == "Night Shift (imported)"
    assert imported.verified and imported.skipped_members == [] and imported.unmatched_people == []
    assert_same_project(seeded, imported.project)
    # The deleted panel, the thread, the pins and the failed take are all there.
    assert Panel.all_objects.filter(storyboard__project=imported.project,
                                    deleted_at__isnull=False).count() == 1  # fmt: skip
    reply = Comment.objects.get(panel__storyboard__project=imported.project, body="Fixed.")
    assert reply.reply_to.pin_w == 0.125 and reply.reply_to.resolved_by == dana
    failed = Take.objects.get(panel__storyboard__project=imported.project, status="failed")
    assert failed.error == "The GPU ran out of memory." and failed.gpu_seconds == 0.25


def test_a_shared_reference_image_stays_one_file(seeded, dana, tmp_path):
    imported = bundle_import(upload=write(seeded, tmp_path), user=dana).project
    mara = Character.objects.get(project=imported, name="MARA")
    inpaint = Take.objects.get(panel__storyboard__project=imported, tool="inpaint")
    assert mara.reference.name == inpaint.reference.name != ""
    assert mara.reference.name.startswith("references/")


def test_importing_twice_names_each_copy(seeded, dana, tmp_path):
    bundle = write(seeded, tmp_path)
    names = [bundle_import(upload=bundle, user=dana).project.name for _ in range(2)]
    assert names == ["Night Shift (imported)", "Night Shift (imported 2)"]


def test_the_bundle_lists_every_file_with_its_checksum_and_is_sealed(seeded, tmp_path):
    entries = entries_of(write(seeded, tmp_path))
    bundle = json.loads(entries["bundle.json"])
    assert bundle["format"] == "slate-bundle" and bundle["version"] == 1
    assert bundle["source"] == {"project": seeded.pk, "name": "Night Shift"}
    assert set(entries) == {"bundle.json", "SIGNATURE", *bundle["files"]}
    for entry, listed in bundle["files"].items():
        assert hashlib.sha256(entries[entry]).hexdigest() == listed["sha256"]
    seal = json.loads(entries["SIGNATURE"])
    assert seal["bundle_sha256"] == hashlib.sha256(entries["bundle.json"]).hexdigest()
    members = {r["user"]: r["role"] for r in bundle["rows"]["storyboards.membership"]}
    assert members == {"dana": "owner", "arti": "artist", "vic": "viewer"}
    comment = bundle["rows"]["storyboards.comment"][0]
    assert comment["mentions"] == ["arti"] and comment["author"] == "vic"


def test_export_reads_each_model_once_and_reports_progress(seeded, dana, tmp_path,
                                                          django_assert_num_queries):  # fmt: skip
    # One query per bundled model (14), one for the comments' mentions, one for usernames.
    seen = []
    with django_assert_num_queries(len(BUNDLED) + 2):
        bundle_write(project=seeded, out_path=tmp_path / "a.zip", on_progress=seen.append)
    assert seen[0] < seen[-1] == 1.0 and seen == sorted(seen)
    panel = Panel.objects.filter(storyboard__project=seeded).first()
    for _ in range(5):
        take(panel, dana, image=stored("takes", 9))
    with django_assert_num_queries(len(BUNDLED) + 2):
        bundle_write(project=seeded, out_path=tmp_path / "b.zip")


def test_a_file_gone_from_storage_is_listed_not_fatal(seeded, dana, tmp_path):
    victim = Take.objects.filter(panel__storyboard__project=seeded, tool="variation").get()
    default_storage.delete(victim.image.name)
    bundle = json.loads(entries_of(write(seeded, tmp_path))["bundle.json"])
    assert bundle["missing_files"] == [{"model": "generation.take", "id": victim.pk,
                                        "field": "image", "name": victim.image.name}]  # fmt: skip


def test_a_take_still_waiting_comes_in_cancelled(project, panel, dana, tmp_path):
    take(panel, dana, status="queued", progress=0, claim="", finished_at=None, started_at=None)
    imported = bundle_import(upload=write(project, tmp_path), user=dana).project
    copy = Take.objects.get(panel__storyboard__project=imported)
    assert copy.status == "cancelled" and "still waiting or running" in copy.error
    assert Take.objects.get(panel=panel).status == "queued"


# --- people ----------------------------------------------------------------------------------


def test_the_importer_owns_it_and_members_come_back_by_username(seeded, olga, dana, tmp_path):
    imported = bundle_import(upload=write(seeded, tmp_path), user=olga)
    roles = dict(imported.project.memberships.values_list("user__username", "role"))
    assert roles == {"dana": "owner", "arti": "artist", "vic": "viewer", "olga": "owner"}
    assert imported.project.created_by == olga


def test_people_not_here_are_skipped_and_their_work_is_credited_to_the_importer(
    seeded, olga, tmp_path
):
    def rename_vic(bundle):
        text = json.dumps(bundle["rows"]).replace('"vic"', '"nobody"')
        bundle["rows"] = json.loads(text)

    entries = resealed(entries_of(write(seeded, tmp_path)), rename_vic)
    imported = bundle_import(upload=zipped(entries, tmp_path), user=olga)
    assert imported.skipped_members == ["nobody"] and imported.unmatched_people == ["nobody"]
    root = Comment.objects.get(panel__storyboard__project=imported.project, reply_to=None,
                               take__isnull=False)  # fmt: skip
    assert root.author == olga
    assert "nobody" not in imported.project.memberships.values_list("user__username", flat=True)


def test_a_bundle_from_another_studio_credits_only_its_members(seeded, olga, django_user_model,
                                                               tmp_path):  # fmt: skip
    ghost = django_user_model.objects.create_user("ghost")  # exists here, never a member
    Take.objects.filter(panel__storyboard__project=seeded, tool="inpaint").update(author=ghost)
    entries = entries_of(write(seeded, tmp_path))
    here = bundle_import(upload=zipped(entries, tmp_path, "here.zip"), user=olga)
    assert here.unmatched_people == []  # sealed here: ghost's work stays ghost's
    foreign = resealed(entries, lambda bundle: None, key_id="0123456789abcdef")
    there = bundle_import(upload=zipped(foreign, tmp_path, "there.zip"), user=olga)
    assert not there.verified and there.unmatched_people == ["ghost"]
    inpaint = Take.objects.get(panel__storyboard__project=there.project, tool="inpaint")
    assert inpaint.author == olga


# --- refusals: a clear error, nothing written ------------------------------------------------


def refused(upload, user, settings, status: int, words: str) -> None:
    before = counts(settings)
    with pytest.raises(BundleError) as caught:
        bundle_import(upload=upload, user=user)
    assert caught.value.status == status, caught.value.detail
    assert words in caught.value.detail
    assert counts(settings) == before


def test_changed_json_is_refused(seeded, dana, tmp_path, settings):
    entries = entries_of(write(seeded, tmp_path))
    entries["bundle.json"] = entries["bundle.json"].replace(b'"Fixed."', b'"Never fixed."')
    refused(zipped(entries, tmp_path), dana, settings, 422, "changed after export")


def test_json_resealed_without_the_key_is_refused(seeded, dana, tmp_path, settings):
    entries = resealed(entries_of(write(seeded, tmp_path)), lambda b: b["source"].update(name="X"))
    seal = json.loads(entries["SIGNATURE"])
    entries["SIGNATURE"] = json.dumps({**seal, "hmac_sha256": "0" * 64}).encode()
    refused(zipped(entries, tmp_path), dana, settings, 422, "signature is not this studio's")


def test_a_changed_file_is_refused(seeded, dana, tmp_path, settings):
    entries = entries_of(write(seeded, tmp_path))
    picture = next(e for e in entries if e.startswith("files/takes/"))
    entries[picture] = png(200)
    refused(zipped(entries, tmp_path), dana, settings, 422, f"{picture} does not match")


def test_a_cut_short_bundle_is_refused(seeded, dana, tmp_path, settings):
    data = write(seeded, tmp_path).read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(data[: len(data) // 2])
    refused(cut, dana, settings, 400, "not a ZIP file, or a cut-short one")


def test_a_file_that_is_no_zip_is_refused(dana, tmp_path, settings):
    upload = SimpleUploadedFile("bundle.zip", b"%PDF-1.7 not a zip", "application/zip")
    refused(upload, dana, settings, 400, "not a ZIP file")


@pytest.mark.parametrize("entry", ["../escape.png", "/etc/cron.d/slate", "files\\..\\x.png",
                                   "files/./x.png", "C:/x.png"])  # fmt: skip
def test_a_path_escaping_the_bundle_is_refused(seeded, dana, tmp_path, settings, entry):
    entries = {**entries_of(write(seeded, tmp_path)), entry: png(1)}
    refused(zipped(entries, tmp_path), dana, settings, 422, "outside its folder")


def test_a_link_inside_the_bundle_is_refused(seeded, dana, tmp_path, settings):
    out = tmp_path / "link.zip"
    with zipfile.ZipFile(out, "w") as archive:
        for entry, data in entries_of(write(seeded, tmp_path)).items():
            archive.writestr(entry, data)
        link = zipfile.ZipInfo("files/takes/link.png")
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
    refused(out, dana, settings, 422, "holds a link")


def test_a_zip_bomb_is_refused_before_unpacking(seeded, dana, tmp_path, settings):
    entries = {**entries_of(write(seeded, tmp_path)), "files/takes/bomb.png": b"\0" * 3 * 2**20}
    settings.SLATE_BUNDLE_MAX_BYTES = 2 * 2**20
    refused(zipped(entries, tmp_path), dana, settings, 413, "unpacks to 3 MB; at most 2 MB")


def test_too_many_entries_are_refused(seeded, dana, tmp_path, settings):
    settings.SLATE_BUNDLE_MAX_ENTRIES = 5
    refused(write(seeded, tmp_path), dana, settings, 413, "entries; at most 5")


def test_a_row_of_another_project_is_refused(seeded, dana, tmp_path, settings):
    def point_elsewhere(bundle):
        bundle["rows"]["storyboards.panel"][0]["storyboard"] = 999_999

    entries = resealed(entries_of(write(seeded, tmp_path)), point_elsewhere)
    refused(zipped(entries, tmp_path), dana, settings, 422, "which the bundle does not hold")


def test_a_file_of_another_project_is_refused(seeded, dana, tmp_path, settings):
    def borrow(bundle):
        bundle["rows"]["generation.take"][0]["image"] = "files/takes/someone-elses.png"

    entries = resealed(entries_of(write(seeded, tmp_path)), borrow)
    refused(zipped(entries, tmp_path), dana, settings, 422, "names a file the bundle does not hold")


def test_an_unlisted_file_is_refused(seeded, dana, tmp_path, settings):
    entries = {**entries_of(write(seeded, tmp_path)), "files/takes/extra.png": png(3)}
    refused(zipped(entries, tmp_path), dana, settings, 422, "files its rows do not list")


def test_an_unknown_format_version_is_refused(seeded, dana, tmp_path, settings):
    entries = resealed(entries_of(write(seeded, tmp_path)), lambda b: b.update(version=2))
    refused(zipped(entries, tmp_path), dana, settings, 422, "format version 2")


def test_bad_json_is_refused(seeded, dana, tmp_path, settings):
    entries = entries_of(write(seeded, tmp_path))
    entries["bundle.json"] = b"{not json"
    digest = hashlib.sha256(entries["bundle.json"]).hexdigest()
    entries["SIGNATURE"] = json.dumps({"bundle_sha256": digest}).encode()
    refused(zipped(entries, tmp_path), dana, settings, 400, "not valid JSON")


def test_a_bad_value_is_refused_with_its_field(seeded, dana, tmp_path, settings):
    def bad_role(bundle):
        bundle["rows"]["storyboards.membership"][1]["role"] = "producer"

    entries = resealed(entries_of(write(seeded, tmp_path)), bad_role)
    refused(zipped(entries, tmp_path), dana, settings, 422, "has a bad role")


def test_rows_the_database_refuses_leave_no_files_behind(seeded, dana, tmp_path, settings):
    def impossible_progress(bundle):
        bundle["rows"]["generation.take"][-1]["progress"] = 5.0  # the table's own check refuses

    entries = resealed(entries_of(write(seeded, tmp_path)), impossible_progress)
    refused(zipped(entries, tmp_path), dana, settings, 422, "break a rule of this database")


def test_every_model_that_belongs_to_a_project_is_bundled():
    """A new model under a project must be bundled (or named here as not bundled, with why)."""
    not_bundled = {"ApiToken"}  # credentials, never exported
    not_bundled |= {"Export"}  # export jobs: the work, not the project's content
    bundled = {model for model, _ in BUNDLED}
    for model in apps.get_app_config("storyboards").get_models():
        if model not in bundled:
            assert model.__name__ in not_bundled, f"{model.__name__} is not in the bundle"
    for model in apps.get_app_config("generation").get_models():
        if model not in bundled:
            assert model.__name__ in not_bundled, f"{model.__name__} is not in the bundle"


# --- API and page ----------------------------------------------------------------------------


def test_api_import_answers_the_new_project(seeded, client, dana, tmp_path):
    from tests.conftest import token_for

    with open(write(seeded, tmp_path), "rb") as upload:
        answer = client.post("/api/projects/import", {"file": upload},
                             headers={"Authorization": f"Bearer {token_for(dana)}"})  # fmt: skip
    assert answer.status_code == 201, answer.content
    body = answer.json()
    new = Project.objects.exclude(pk=seeded.pk).get()
    assert body["project"] == {"id": new.pk, "name": "Night Shift (imported)",
                               "created_at": body["project"]["created_at"]}  # fmt: skip
    assert body["skipped_members"] == [] and body["unmatched_people"] == [] and body["verified"]


def test_api_refuses_a_changed_bundle_in_words(seeded, client, dana, tmp_path, settings):
    from tests.conftest import token_for

    entries = entries_of(write(seeded, tmp_path))
    entries["bundle.json"] = entries["bundle.json"].replace(b"Opening", b"Closing")
    before = counts(settings)
    with open(zipped(entries, tmp_path), "rb") as upload:
        answer = client.post("/api/projects/import", {"file": upload},
                             headers={"Authorization": f"Bearer {token_for(dana)}"})  # fmt: skip
    assert answer.status_code == 422
    assert "changed after export" in answer.json()["detail"]
    assert counts(settings) == before


def test_api_import_needs_a_signed_in_person(seeded, client, tmp_path):
    with open(write(seeded, tmp_path), "rb") as upload:
        answer = client.post("/api/projects/import", {"file": upload})
    assert answer.status_code == 401
    assert Project.objects.count() == 1


def test_the_projects_page_imports_a_bundle(seeded, client, olga, tmp_path):
    client.force_login(olga)
    assert b"Import a project bundle" in client.get(reverse("project-list")).content
    with open(write(seeded, tmp_path), "rb") as upload:
        answer = client.post(reverse("project-import"), {"file": upload})
    new = Project.objects.exclude(pk=seeded.pk).get()
    assert answer.status_code == 302 and answer.url == reverse("project-detail", args=[new.pk])
    assert new.memberships.get(user=olga).role == "owner"


def test_the_projects_page_shows_why_a_bundle_was_refused(client, olga, settings):
    client.force_login(olga)
    before = counts(settings)
    upload = SimpleUploadedFile("bundle.zip", b"not a zip", "application/zip")
    answer = client.post(reverse("project-import"), {"file": upload})
    assert answer.status_code == 400
    assert "The bundle was not imported: This is not a Slate bundle" in answer.content.decode()
    assert counts(settings) == before


def test_the_import_page_needs_a_signed_in_person(client):
    answer = client.post(reverse("project-import"))
    assert answer.status_code == 302 and reverse("login") in answer.url


def test_bundle_uploads_get_their_own_body_limit(settings):
    assert body_limit(b"/api/projects/import") == settings.SLATE_BUNDLE_UPLOAD_MAX_BYTES
    assert body_limit(b"/projects/import/?next=x") == settings.SLATE_BUNDLE_UPLOAD_MAX_BYTES
    assert body_limit(b"/api/projects/1/members") == settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def test_text_no_database_stores_is_refused(seeded, dana, tmp_path, settings):
    def nul(bundle):
        bundle["rows"]["storyboards.comment"][0]["body"] = "sign\x00reads"

    entries = resealed(entries_of(write(seeded, tmp_path)), nul)
    refused(zipped(entries, tmp_path), dana, settings, 422, "NUL or broken character in body")


def test_api_refuses_a_bundle_over_the_upload_limit(seeded, client, dana, tmp_path, settings):
    from tests.conftest import token_for

    settings.SLATE_BUNDLE_UPLOAD_MAX_BYTES = 1024
    with open(write(seeded, tmp_path), "rb") as upload:
        answer = client.post("/api/projects/import", {"file": upload},
                             headers={"Authorization": f"Bearer {token_for(dana)}"})  # fmt: skip
    assert answer.status_code == 413 and "; at most 1 KB." in answer.json()["detail"]


def test_daphne_lets_a_bundle_past_the_usual_body_limit_and_imports_it(processes, seeded, dana,
                                                                      tmp_path):  # fmt: skip
    """The import path has its own limit at the Twisted layer: a body the usual 24 MB limit
    would refuse is read, and one over the bundle limit is refused before it is sent."""
    import http.client
    import socket

    from tests.conftest import token_for
    from tests.test_security import read_answer

    host, port = processes.studio(SLATE_BUNDLE_UPLOAD_MAX_BYTES=40 * 2**20).split(":")
    head = (f"POST /api/projects/import HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer "
            f"{token_for(dana)}\r\nContent-Type: multipart/form-data; boundary=b\r\n")  # fmt: skip
    with socket.create_connection((host, int(port)), timeout=1) as sock:
        sock.sendall(f"{head}Content-Length: {30 * 2**20}\r\n\r\n--b".encode())
        assert read_answer(sock) == b""  # still waiting for the rest: not refused
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"{head}Content-Length: {41 * 2**20}\r\n\r\n--b".encode())
        assert b"larger than 40 MB" in read_answer(sock)

    data = write(seeded, tmp_path).read_bytes()
    body = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="n.zip"\r\n'
            b"Content-Type: application/zip\r\n\r\n" + data + b"\r\n--b--\r\n")  # fmt: skip
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("POST", "/api/projects/import", body, headers={
        "Authorization": f"Bearer {token_for(dana)}",
        "Content-Type": "multipart/form-data; boundary=b"})  # fmt: skip
    answer = connection.getresponse()
    assert answer.status == 201, answer.read()[:300]
    assert json.loads(answer.read())["project"]["name"] == "Night Shift (imported)"


def test_a_stored_name_an_import_would_refuse_travels_renamed(project, panel, dana, tmp_path,
                                                              settings):  # fmt: skip
    odd = settings.MEDIA_ROOT / "takes" / "odd:name.png"
    odd.parent.mkdir(parents=True, exist_ok=True)
    odd.write_bytes(png(7))
    take(panel, dana, image="takes/odd:name.png")
    bundle = write(project, tmp_path)
    assert "files/renamed/0.png" in entries_of(bundle)
    copy = Take.objects.get(
        panel__storyboard__project=bundle_import(upload=bundle, user=dana).project
    )
    assert copy.image.name.startswith("takes/") and copy.image.read() == png(7)
