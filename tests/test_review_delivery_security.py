"""Issue 11's new surface seen by an attacker: what bundles, presence, comments and exports
must not let through."""

import pytest
from asgiref.sync import async_to_sync
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from generation.models import Take
from storyboards import consumers
from storyboards.bundle import bundle_import, bundle_write

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
