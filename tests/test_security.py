"""One test per hardening finding (issue 9) that this code has answered; the attack, reproduced.

Also here by reference: cross-site sockets (test_live_updates.test_cross_site_browser_socket_is_refused),
unknown socket paths and huge ids (…test_unknown_socket_paths_and_huge_ids_are_refused_cleanly,
test_pages.test_ids_too_big_for_the_database_and_odd_digits_are_404s), a deactivated account's
sockets (test_live_updates.test_a_deactivated_account_stops_hearing_at_once), an escaped error
(test_pages.test_a_refused_panel_is_explained_on_the_board_escaped, and in the browser:
test_browser.test_a_refusal_shows_escaped_where_the_person_looks), media revalidation
(test_permissions.test_media_is_revalidated_so_a_removed_member_keeps_nothing), a socket that
stops reading (test_events.test_a_socket_that_stops_reading_is_cut_off_not_buffered_forever).
"""

import http.client
import json
import secrets
import select
import socket
import subprocess
import sys
import threading
import time

import psutil
import pytest

from .conftest import ROOT


def test_deploy_check_is_clean_with_the_https_settings_on():
    env = {
        "PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "studio.settings", "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50), "SLATE_HTTPS": "1",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1", "SECURE_HSTS_PRELOAD": "1",
    }  # fmt: skip
    check = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    assert "no issues" in check.stdout


# --- access that outlives the account (finding 2) ---------------------------------------------


def test_tokens_are_listed_and_revoked_by_their_owner_only(api, dana, vic):
    from storyboards.models import ApiToken

    caller = api(dana)
    mine = ApiToken.objects.filter(user=dana).get()  # the one the caller uses
    listed = caller.get("/auth/tokens")
    assert listed.status_code == 200 and [t["id"] for t in listed.json()] == [mine.id]
    assert "key" not in listed.json()[0] and "key_hash" not in listed.json()[0]
    others = api(vic)
    theirs = ApiToken.objects.filter(user=vic).get()
    assert caller.delete(f"/auth/tokens/{theirs.id}").status_code == 404  # not a hint
    assert ApiToken.objects.filter(pk=theirs.pk).exists()
    assert others.delete(f"/auth/tokens/{theirs.id}").status_code == 204
    assert others.get("/auth/tokens").status_code == 401  # revoked: it no longer works


@pytest.mark.django_db
def test_a_new_password_ends_every_old_token(client, dana):
    from storyboards.services import token_issue

    key = token_issue(user=dana)
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/projects", headers=headers).status_code == 200
    dana.set_password("a-brand-new-pw-2026")
    dana.save()
    assert client.get("/api/projects", headers=headers).status_code == 401


@pytest.mark.django_db
def test_the_tokens_page_makes_shows_once_and_revokes(client, dana, olga):
    from storyboards.models import ApiToken
    from storyboards.services import token_issue

    theirs = token_issue(user=olga)
    client.force_login(dana)
    made = client.post("/account/tokens/", {"action": "create"}).content.decode()
    token = ApiToken.objects.get(user=dana)
    assert "shown this once" in made and f"#{token.id}" in made
    assert (
        client.post(
            "/account/tokens/", {"token": str(ApiToken.objects.get(user=olga).id)}
        ).status_code
        == 404
    )
    assert client.post("/account/tokens/", {"token": "²"}).status_code == 404
    assert client.post("/account/tokens/", {"token": str(token.id)}).status_code == 302
    assert not ApiToken.objects.filter(user=dana).exists()
    assert ApiToken.objects.filter(user=olga).count() == 1 and theirs


@pytest.mark.django_db(transaction=True)
def test_sockets_opened_with_an_old_password_or_a_revoked_token_close(storyboard, panel, vic, dana):
    from asgiref.sync import async_to_sync
    from channels.db import database_sync_to_async

    from storyboards import services as boards

    from .test_live_updates import communicator, session_cookie

    token = boards.token_issue(user=vic)
    other = boards.token_issue(user=vic)
    cookie = session_cookie(vic)

    async def run():
        by_token = communicator(f"/ws/storyboards/{storyboard.id}/events", token=token)
        by_other = communicator(f"/ws/storyboards/{storyboard.id}/events", token=other)
        for comm in (by_token, by_other):
            assert (await comm.connect())[0]
            await comm.receive_from()  # hello
        revoked = await database_sync_to_async(vic.api_tokens.get)(
            key_hash=boards.ApiToken.hash(token)
        )
        await database_sync_to_async(boards.token_revoke)(user=vic, token_id=revoked.id)
        closed = await by_token.receive_output(timeout=5)
        # The other token still holds: that socket hears the change and stays open.
        heard = json.loads(await by_other.receive_from(timeout=5))
        assert heard["type"] == "member.changed" and await by_other.receive_nothing(timeout=0.5)
        page = communicator(
            f"/ws/storyboards/{storyboard.id}/live", cookie=cookie, origin="http://localhost:8000"
        )
        assert (await page.connect())[0]
        await page.receive_from()  # hello

        def new_password():
            vic.set_password("another-new-pw-2026")
            vic.save()

        await database_sync_to_async(new_password)()
        after = [await page.receive_output(timeout=5), await by_other.receive_output(timeout=5)]
        return closed, after

    closed, after = async_to_sync(run)()
    assert closed["type"] == "websocket.close"
    assert [m["type"] for m in after] == ["websocket.close", "websocket.close"]


# --- work inside the write transaction on attacker-sized input (finding 3) ------------------


@pytest.mark.django_db(transaction=True)
def test_a_mask_is_sized_from_its_header_and_decoded_outside_any_transaction(
    monkeypatch, panel, dana
):
    import base64
    import struct
    import zlib

    from django.core.exceptions import ValidationError
    from django.db import connection

    from generation import media
    from generation import services as takes
    from generation.models import Take

    first = Take.objects.create(panel=panel, author=dana, model_key="tiny", seed=1, steps=2,
                                guidance=1.0, width=64, height=64, status="succeeded")  # fmt: skip
    first.image.save("p/first.png", media_png(64, 64), save=True)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    # 4096x4096, 16-bit RGBA, claimed in 60 bytes: decoding it would take seconds.
    claim = b"\x89PNG\r\n\x1a\n" + chunk(
        b"IHDR", struct.pack(">IIBBBBB", 4096, 4096, 16, 6, 0, 0, 0)
    )
    claim += chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    decoded_in_transaction = []
    real = media.decode_image

    def watched(*args, **kwargs):
        decoded_in_transaction.append(connection.in_atomic_block)
        return real(*args, **kwargs)

    monkeypatch.setattr(media, "decode_image", watched)
    with pytest.raises(ValidationError, match="The mask is 4096x4096; the take is 64x64"):
        takes.take_request(panel=panel, author=dana, tool="inpaint", parent_take=first.id,
                           mask=base64.b64encode(claim).decode())  # fmt: skip
    good = io_png(64, 64)
    takes.take_request(panel=panel, author=dana, tool="inpaint", parent_take=first.id,
                       mask=base64.b64encode(good).decode())  # fmt: skip
    assert decoded_in_transaction == [False, False]
    assert Take.objects.filter(tool="inpaint").count() == 1


def io_png(width: int, height: int) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (width, height), 255).save(buffer, format="PNG")
    return buffer.getvalue()


def media_png(width: int, height: int):
    from django.core.files.base import ContentFile

    return ContentFile(io_png(width, height))


# --- an allowed take that cannot finish (finding 9) ----------------------------------------


def test_a_take_the_model_cannot_finish_in_time_is_refused_at_request_time(api, panel):
    from generation.models import Take

    refused = api(panel.created_by).post(
        f"/panels/{panel.id}/takes", {"steps": 40, "width": 256, "height": 256}
    )
    assert refused.status_code == 422
    message = refused.json()["detail"][0]["msg"]
    assert "within its 300 s limit" in message and "at most 16 steps" in message
    assert not Take.objects.exists()
    fits = api(panel.created_by).post(
        f"/panels/{panel.id}/takes", {"steps": 16, "width": 256, "height": 256}
    )
    assert fits.status_code == 202


# --- no quotas (finding 8) -------------------------------------------------------------------


def test_a_member_cannot_queue_unbounded_takes_on_a_panel(api, client, panel, settings):
    from generation.models import Take

    settings.SLATE_MAX_WAITING_PER_PANEL = 3
    caller = api(panel.created_by)
    answers = [caller.post(f"/panels/{panel.id}/takes", {}).status_code for _ in range(5)]
    assert answers == [202, 202, 202, 429, 429]
    refused = caller.post(f"/panels/{panel.id}/takes", {})
    assert "3 takes waiting on this panel" in refused.json()["detail"][0]["msg"]
    assert Take.objects.count() == 3
    # A retry counts too; cancelling one makes room.
    first = Take.objects.order_by("id").first()
    assert caller.post(f"/takes/{first.id}/cancel").status_code == 200
    assert caller.post(f"/takes/{first.id}/retry").status_code == 202
    assert caller.post(f"/takes/{first.id}/retry").status_code == 429
    # The page says so where the person looks.
    client.force_login(panel.created_by)
    page = client.post(f"/panels/{panel.id}/generate/", {"tool": "text2image"})
    assert page.status_code == 429 and page["HX-Retarget"] == f"#panel-{panel.id}-notice"
    assert "takes waiting on this panel" in page.content.decode()


def test_generate_all_is_refused_whole_beyond_the_studio_quota(api, storyboard, panel, settings):
    from generation.models import Take
    from storyboards import services as boards

    for i in range(3):
        boards.panel_create(storyboard=storyboard, user=panel.created_by, prompt=f"shot {i}")
    settings.SLATE_MAX_WAITING = 3
    answer = api(panel.created_by).post(f"/storyboards/{storyboard.id}/generate-all")
    assert answer.status_code == 429 and "4 more takes" in answer.json()["detail"][0]["msg"]
    assert not Take.objects.exists()


# --- password guessing (finding 5) -------------------------------------------------------------


@pytest.mark.django_db
def test_password_guesses_are_throttled_per_username_and_address(client, dana, settings):
    settings.AXES_FAILURE_LIMIT = 3
    here, elsewhere = {"REMOTE_ADDR": "203.0.113.7"}, {"REMOTE_ADDR": "198.51.100.9"}
    guess = {"username": "dana", "password": "not-it"}
    answers = [client.post("/api/auth/token", guess, content_type="application/json", **here).status_code
               for _ in range(4)]  # fmt: skip
    assert answers == [401, 401, 429, 429]
    right = {"username": "dana", "password": "dana-secret-pw"}
    locked = client.post("/api/auth/token", right, content_type="application/json", **here)
    assert locked.status_code == 429 and "Too many wrong passwords" in locked.json()["detail"]
    assert int(locked["Retry-After"]) > 0
    # Dana herself, from her own address, is not locked out by someone guessing elsewhere.
    assert (
        client.post(
            "/api/auth/token", right, content_type="application/json", **elsewhere
        ).status_code
        == 200
    )
    page = client.post("/login/", right, **here)
    assert page.status_code == 429 and "Too many wrong passwords" in page.content.decode()
    assert client.post("/login/", right, **elsewhere).status_code == 302


# --- bodies buffered before they are refused (finding 4) ---------------------------------------

TOKEN_HEAD = (
    b"POST /api/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
)


def read_answer(sock: socket.socket) -> bytes:
    """Everything until the server closes (or resets, or stays silent for the socket's timeout)."""
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return answer


def sign_in(address: str, user, *, chunked: bool = False) -> int:
    host, port = address.split(":")
    body = json.dumps({"username": user.username, "password": f"{user.username}-secret-pw"})
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    headers = {"Content-Type": "application/json"}
    connection.request("POST", "/api/auth/token", iter([body.encode()]) if chunked else body,
                       headers=headers, encode_chunked=chunked)  # fmt: skip
    answer = connection.getresponse()
    assert "token" in json.loads(answer.read())
    return answer.status


def test_a_body_too_long_by_its_length_is_refused_before_it_is_sent(processes, dana):
    address = processes.studio()
    assert sign_in(address, dana) == 200
    assert sign_in(address, dana, chunked=True) == 200

    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        started = time.monotonic()
        sock.sendall(TOKEN_HEAD + b"Content-Length: 500000000\r\n\r\n" + b'{"username"')
        answer = read_answer(sock)
        took = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 413 "), f"{answer[:40]!r} after {took:.1f} s"
    assert took < 1
    head, body = answer.split(b"\r\n\r\n", 1)
    assert b"Content-Type: application/json" in head and b"Connection: close" in head
    assert f"Content-Length: {len(body)}".encode() in head
    assert json.loads(body) == {"detail": "The request body is larger than 24 MB."}


def test_a_streamed_body_is_cut_off_at_the_limit_and_never_held(processes, dana, settings):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    address = processes.studio()
    daphne = psutil.Process(processes.procs[-1].pid)
    assert sign_in(address, dana) == 200  # Django and its URLs loaded before measuring
    before = daphne.memory_info().rss
    peak, streaming = before, True

    def watch():
        nonlocal peak
        while streaming:
            peak = max(peak, daphne.memory_info().rss)
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    host, port = address.split(":")
    chunk = b"%x\r\n" % 2**20 + b"x" * 2**20 + b"\r\n"
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        try:
            sock.sendall(TOKEN_HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
            # Stop once the server answers or hangs up; never past three times the limit.
            while sent < 3 * limit and not select.select([sock], [], [], 0)[0]:
                sock.sendall(chunk)
                sent += 2**20
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.settimeout(5)
        answer = read_answer(sock)
    time.sleep(0.2)
    streaming = False
    watcher.join()
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert sent < 3 * limit, "the server read the whole body before answering"
    assert peak - before < limit, f"daphne grew by {(peak - before) // 2**20} MB"
    assert sign_in(address, dana) == 200
