"""Issue 11's new surface seen by an attacker: what bundles, presence, comments and exports
must not let through."""

import hashlib
import json
import re
import zipfile

import pytest
from asgiref.sync import async_to_sync
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from generation.models import Take
from storyboards import consumers
from storyboards.bundle import BundleError, bundle_import, bundle_write
from storyboards.models import Project

pytestmark = pytest.mark.django_db

PAGE = b"<html><script>fetch('/api/auth/tokens')</script></html>"


def _take(panel, author, **files) -> Take:
    return Take.objects.create(
        panel=panel, author=author, model_key="tiny", prompt=panel.prompt, seed=1, steps=1,
        guidance=1.0, width=64, height=48, status="succeeded", progress=1.0,
        finished_at=timezone.now(), **files,
    )  # fmt: skip


@pytest.mark.parametrize("name", ["page.html", "page.svg", "page.xhtml"])
def test_a_bundled_file_never_runs_as_a_page_on_our_origin(client, project, panel, dana, olga,
                                                            tmp_path, name):  # fmt: skip
    """A bundle can carry any file as a take's picture; served inline as HTML or SVG it would
    run script with the viewer's session. Media that is no picture or video is a download."""
    _take(panel, dana, image=default_storage.save(f"takes/{name}", ContentFile(PAGE)))
    bundle = tmp_path / "evil.zip"
    bundle_write(project=project, out_path=bundle)
    imported = bundle_import(upload=bundle, user=olga).project
    take = Take.objects.get(panel__storyboard__project=imported)
    client.force_login(olga)

    response = client.get(f"/media/{take.image.name}")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_pictures_and_videos_still_show_inline(client, project, panel, dana):
    png = _take(panel, dana, image=default_storage.save("takes/f.png", ContentFile(b"\x89PNG")))
    mp4 = _take(panel, dana, video=default_storage.save("takes/c.mp4", ContentFile(b"....ftyp")))
    client.force_login(dana)
    for name, kind in ((png.image.name, "image/png"), (mp4.video.name, "video/mp4")):
        response = client.get(f"/media/{name}")
        assert response["Content-Type"] == kind
        assert "attachment" not in response.get("Content-Disposition", "")


def test_presence_never_announces_a_panel_it_did_not_check_on_this_board(monkeypatch):
    """A page that sends another board's panel id while its last focus is being checked must
    not have that id announced: only a panel checked on this board is ever shown."""
    socket = consumers.StoryboardLiveConsumer()
    socket.storyboard_id, socket.scope, socket.present = "1", {"user": object()}, True
    socket.focused, socket.focus_task, socket.FOCUS_EVERY_S = 5, None, 0
    announced = []
    monkeypatch.setattr(consumers.presence, "enter", lambda b, s, u, panel: announced.append(panel))
    monkeypatch.setattr(consumers.presence, "announce", lambda board: None)

    async def on_this_board(panel):
        if panel == 5:
            socket.focused = 77  # another board's panel, sent while 5 is being checked
        return panel == 5

    socket.on_this_board = on_this_board
    async_to_sync(socket.announce_focus)()

    assert 77 not in announced and announced[0] == 5 and announced[-1] is None


# --- outsiders: every new page and call answers as if nothing were there --------------------


@pytest.fixture
def surface(project, storyboard, panel, dana):
    """One of each new thing, and the paths that show or change it."""
    from generation.models import Export
    from storyboards.models import Comment

    a = _take(panel, dana, image=default_storage.save("takes/a.png", ContentFile(b"\x89PNG")))
    b = _take(panel, dana, image=default_storage.save("takes/b.png", ContentFile(b"\x89PNG")))
    comment = Comment.objects.create(panel=panel, author=dana, body="Too dark.", take=a)
    export = Export.objects.create(project=project, storyboard=storyboard, requested_by=dana,
                                   kind="pdf", status="succeeded", options={"layout": 2})  # fmt: skip
    export.file.save("p/x.pdf", ContentFile(b"%PDF-1.7"), save=True)
    ids = {"p": project.id, "s": storyboard.id, "n": panel.id, "c": comment.id, "e": export.id,
           "a": a.id, "b": b.id}  # fmt: skip
    pages = [("get", "/projects/{p}/ledger/"), ("get", "/projects/{p}/ledger.csv"),
             ("get", "/projects/{p}/credits/"), ("get", "/storyboards/{s}/ledger/"),
             ("get", "/storyboards/{s}/exports/"), ("post", "/storyboards/{s}/exports/"),
             ("get", "/exports/{e}/download/"), ("get", "/exports/{e}/download/?part=srt"),
             ("get", "/storyboards/{s}/review/"), ("get", "/panels/{n}/review/"),
             ("post", "/comments/{c}/resolve/"), ("get", "/takes/compare/?a={a}&b={b}"),
             ("post", "/takes/{a}/recall/")]  # fmt: skip
    calls = [("get", "/projects/{p}/ledger"), ("get", "/projects/{p}/credits"),
             ("get", "/exports/{e}"), ("get", "/storyboards/{s}/exports"),
             ("post", "/storyboards/{s}/exports"), ("post", "/projects/{p}/bundle"),
             ("post", "/comments/{c}/resolve"), ("post", "/comments/{c}/reopen"),
             ("post", "/takes/{a}/recall")]  # fmt: skip
    return ids, pages, calls


def _missing(ids: dict) -> dict:
    return {key: value + 10_000 for key, value in ids.items()}


def _page(response) -> bytes:
    return re.sub(rb'(X-CSRFToken": "|value=")[\w-]{64}', rb"\1", response.content)


def test_an_outsider_gets_the_same_404_as_for_nothing_there(client, api, surface, olga):
    ids, pages, calls = surface
    client.force_login(olga)
    for method, path in pages:
        seen = getattr(client, method)(path.format(**ids))
        nothing = getattr(client, method)(path.format(**_missing(ids)))
        assert seen.status_code == nothing.status_code == 404, path
        assert _page(seen) == _page(nothing), path
    for method, path in calls:
        body = {"kind": "pdf"} if path.endswith("/exports") else None
        seen = getattr(api(olga), method)(path.format(**ids), *([body] if method == "post" else []))
        nothing = getattr(api(olga), method)(
            path.format(**_missing(ids)), *([body] if method == "post" else [])
        )
        assert seen.status_code == nothing.status_code == 404, path
        assert seen.json() == nothing.json(), path


def test_an_export_downloads_for_members_by_bearer_and_nobody_anonymous(client, surface, dana):
    ids, _, _ = surface
    from tests.conftest import token_for

    url = f"/exports/{ids['e']}/download/"
    assert client.get(url).status_code == 404
    assert client.get(url, headers={"Authorization": "Bearer nonsense"}).status_code == 404
    response = client.get(url, headers={"Authorization": f"Bearer {token_for(dana)}"})
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    assert client.get(url + "?part=../../etc/passwd").status_code == 404


def test_a_viewer_comments_but_changes_no_status_and_no_one_elses_thread(client, api, surface,
                                                                          vic, arti):  # fmt: skip
    ids, _, _ = surface
    panel, comment = ids["n"], ids["c"]
    assert api(vic).post(f"/panels/{panel}/comments", {"body": "Agreed."}).status_code == 201
    refused = api(vic).post(f"/panels/{panel}/status", {"status": "approved"})
    assert refused.status_code == 403 and "viewer" in refused.json()["detail"].lower()
    refused = api(vic).post(f"/comments/{comment}/resolve")
    assert refused.status_code == 403 and "author or an editor" in refused.json()["detail"]
    client.force_login(vic)
    page = client.post(f"/comments/{comment}/resolve/")
    assert page.status_code == 403 and b"author or an editor" in page.content
    assert api(arti).post(f"/comments/{comment}/resolve").status_code == 200
    assert api(vic).post(f"/takes/{ids['a']}/recall").status_code == 403


@pytest.mark.parametrize("number", [b"Infinity", b"NaN", b"1e400"])
def test_a_bundle_with_numbers_json_has_not_is_refused(project, panel, dana, olga, tmp_path,
                                                       number):  # fmt: skip
    """Python reads NaN and Infinity; stored, they would make the ledger's and takes' JSON
    answers unreadable to every client."""
    _take(panel, dana, gpu_seconds=1.5)
    bundle = tmp_path / "nan.zip"
    bundle_write(project=project, out_path=bundle)
    with zipfile.ZipFile(bundle) as archive:
        entries = {i.filename: archive.read(i) for i in archive.infolist()}
    data = entries["bundle.json"].replace(b'"gpu_seconds": 1.5', b'"gpu_seconds": ' + number)
    seal = {**json.loads(entries["SIGNATURE"]), "key_id": "another studio",
            "bundle_sha256": hashlib.sha256(data).hexdigest()}  # fmt: skip
    entries["bundle.json"] = data
    entries["SIGNATURE"] = json.dumps(seal).encode()
    changed = tmp_path / "changed.zip"
    with zipfile.ZipFile(changed, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    before = Project.objects.count()

    with pytest.raises(BundleError) as refused:
        bundle_import(upload=changed, user=olga)

    assert refused.value.status == 400 and "not valid JSON" in refused.value.detail
    assert Project.objects.count() == before


def test_comparing_takes_with_huge_prompts_answers_at_once(client, panel, dana):
    """A bundle may carry takes with prompts of any length; the word diff must not take the
    square of it (200,000 words of a small vocabulary ran for hours)."""
    import random
    import time

    words = [f"w{random.randrange(40)}" for _ in range(200_000)]
    a = _take(panel, dana, image=default_storage.save("takes/a.png", ContentFile(b"\x89PNG")))
    b = _take(panel, dana, image=default_storage.save("takes/b.png", ContentFile(b"\x89PNG")))
    Take.objects.filter(pk=a.pk).update(prompt=" ".join(words))
    Take.objects.filter(pk=b.pk).update(prompt=" ".join(reversed(words)))
    client.force_login(dana)

    started = time.monotonic()
    response = client.get(f"/takes/compare/?a={a.id}&b={b.id}")

    assert response.status_code == 200 and time.monotonic() - started < 10
    assert b"<mark>" in response.content


def test_a_tiny_bundle_that_would_unpack_into_gigabytes_of_objects_is_refused(olga, tmp_path):
    """120 MB of `[],` deflates to 120 KB and took 3 GB and 40 s to read as JSON: a bundle.json
    with more objects and lists than any project holds is refused before it is read."""
    data = b'{"rows": [' + b"[]," * 1_100_000 + b"0]}"
    seal = {"format": "slate-bundle-signature", "key_id": "another studio",
            "bundle_sha256": hashlib.sha256(data).hexdigest()}  # fmt: skip
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bundle.json", data)
        archive.writestr("SIGNATURE", json.dumps(seal))
    assert bomb.stat().st_size < 50_000

    with pytest.raises(BundleError) as refused:
        bundle_import(upload=bomb, user=olga)

    assert refused.value.status == 413 and "objects and lists" in refused.value.detail


@pytest.mark.parametrize("digit", ["²", "x"])
def test_an_id_field_with_a_digit_int_cannot_read_is_a_422(client, storyboard, panel, dana, digit):
    """Python calls "²" a digit but int() refuses it: a 500 before this."""
    client.force_login(dana)
    comment = client.post(f"/panels/{panel.id}/comments/", {"body": "Brighter.", "take": digit})
    assert comment.status_code == 422 and b"Take must be an id" in comment.content
    edit = client.post(
        f"/panels/{panel.id}/edit/", {"style_preset": digit}, headers={"HX-Request": "true"}
    )
    assert edit.status_code == 422
    settings = client.post(f"/storyboards/{storyboard.id}/settings/", {"title": "Opening",
                           "style_preset": digit}, headers={"HX-Request": "true"})  # fmt: skip
    assert settings.status_code == 422 and b"Pick a style" in settings.content


@pytest.mark.django_db(transaction=True)
def test_export_requests_at_once_never_pass_the_quota_together(dana, storyboard, panel,
                                                              monkeypatch):  # fmt: skip
    """Two requests that both counted four waiting exports must not both become the fifth and
    sixth: the person's row lock makes them count one after the other (PostgreSQL; SQLite's
    IMMEDIATE transactions already run one at a time)."""
    import threading

    from django.db import connection, connections

    from generation import export_services
    from generation.models import Export

    if connection.vendor != "postgresql":
        pytest.skip("SQLite writes one transaction at a time")
    for _ in range(export_services.MAX_WAITING - 1):
        export_services.export_request(storyboard=storyboard, requested_by=dana, kind="pdf")
    both_counted = threading.Barrier(2, timeout=3)
    clean = Export.full_clean

    def full_clean_when_both_counted(self, *args, **kwargs):
        try:
            both_counted.wait()  # with the lock, the other request never gets here meanwhile
        except threading.BrokenBarrierError:
            pass
        return clean(self, *args, **kwargs)

    monkeypatch.setattr(Export, "full_clean", full_clean_when_both_counted)
    answers = []

    def ask():
        try:
            export_services.export_request(storyboard=storyboard, requested_by=dana, kind="pdf")
            answers.append("queued")
        except Exception as error:  # TooMany
            answers.append(type(error).__name__)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert sorted(answers) == ["TooMany", "queued"]
    assert Export.objects.filter(requested_by=dana).count() == export_services.MAX_WAITING
