"""The hardening findings of issue 9, one section each in the issue's order: every test replays
the attack from outside (the test client, a websocket communicator, a raw socket, a real daphne)
and shows that it now fails.

1. Cross-site websocket hijacking: test_a_page_from_another_origin_cannot_use_the_cookie_on_a_socket
2. Access that outlives the account: test_a_deactivated_accounts_open_sockets_close_at_once,
   test_a_new_password_ends_every_old_token,
   test_sockets_opened_with_an_old_password_or_a_revoked_token_close,
   test_tokens_are_listed_and_revoked_by_their_owner_only,
   test_the_tokens_page_makes_shows_once_and_revokes
3. Work inside the write transaction on attacker-sized input:
   test_a_tiny_mask_claiming_4096_pixels_is_refused_from_its_header_outside_any_transaction
4. Bodies buffered before they are refused:
   test_a_body_too_long_by_its_length_is_refused_before_it_is_sent,
   test_a_streamed_body_is_cut_off_at_the_limit_and_never_held, and the same for the other
   direction: test_a_socket_that_stops_reading_is_cut_off_not_buffered_forever
5. Password guessing: test_password_guesses_are_throttled_per_username_and_address
6. Self-XSS in an error: test_a_script_in_a_refused_field_comes_back_escaped; in a real browser,
   tests/test_browser.py::test_a_refusal_shows_escaped_where_the_person_looks (it stays beside
   the browser fixtures)
7. 500s: test_huge_ids_and_odd_digits_in_urls_and_forms_are_404s_not_500s,
   test_unknown_socket_paths_and_huge_socket_ids_close_cleanly_not_500s
8. No quotas: test_a_member_cannot_queue_unbounded_takes_on_a_panel,
   test_generate_all_is_refused_whole_beyond_the_studio_quota
9. An allowed take that cannot finish:
   test_a_take_the_model_cannot_finish_in_time_is_refused_at_request_time
10. Deploy settings: test_deploy_check_is_clean_with_the_https_settings_on
11. Media cache: test_media_is_revalidated_so_a_removed_member_keeps_nothing
"""

import base64
import http.client
import io
import json
import secrets
import select
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib

import psutil
import pytest
import redis
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.core.files.base import ContentFile
from PIL import Image

from generation import media
from generation.models import Take
from storyboards import services as boards
from storyboards.models import ApiToken, Panel
from studio import events

from .conftest import ROOT, token_for, wait_for
from .test_live_updates import communicator, session_cookie


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height), 255).save(buffer, format="PNG")
    return buffer.getvalue()


def finished_take(panel, author) -> Take:
    """A succeeded 64x64 take with its image in media."""
    take = Take.objects.create(panel=panel, author=author, model_key="tiny", seed=1, steps=2,
                               guidance=1.0, width=64, height=64, status="succeeded")  # fmt: skip
    take.image.save("p/take.png", ContentFile(png(64, 64)), save=True)
    return take


# --- 1. Cross-site websocket hijacking ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_page_from_another_origin_cannot_use_the_cookie_on_a_socket(storyboard, vic, settings):
    """Only this site's own origin (scheme, host and port) or a trusted one may use the cookie:
    as strict as Django's CSRF origin check."""
    cookie = session_cookie(vic)
    settings.CSRF_TRUSTED_ORIGINS = ["https://studio.example"]
    path = f"/ws/storyboards/{storyboard.id}/live"
    expected = {
        ("https://evil.example", "localhost:8000"): False,  # another site
        ("http://127.0.0.1:9999", "127.0.0.1:8000"): False,  # the issue's page: another port
        ("http://localhost:1234", "localhost:8000"): False,  # another port
        ("https://127.0.0.1", "127.0.0.1"): False,  # another scheme
        ("http://localhost:8000", "evil.example"): False,  # a host we do not serve
        ("http://localhost:8000", "localhost:8000"): True,  # the board's own page
        ("https://studio.example", "localhost:8000"): True,  # a trusted origin
    }

    async def run():
        verdicts = {}
        for origin, host in expected:
            comm = communicator(path, cookie=cookie, origin=origin, host=host)
            verdicts[(origin, host)], _ = await comm.connect()
            await comm.disconnect()
        return verdicts

    assert async_to_sync(run)() == expected


# --- 2. Access that outlives the account -------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_deactivated_accounts_open_sockets_close_at_once(storyboard, panel, vic, dana):
    token = boards.token_issue(user=vic)
    cookie = session_cookie(vic)

    async def run():
        sockets = [
            communicator(f"/ws/storyboards/{storyboard.id}/events", token=token),
            communicator(f"/ws/storyboards/{storyboard.id}/live", cookie=cookie, origin="http://localhost:8000"),
        ]  # fmt: skip
        for comm in sockets:
            assert (await comm.connect())[0]
            await comm.receive_from()  # hello

        def deactivate():  # as the admin does it: a plain save of the account
            vic.is_active = False
            vic.save()

        await database_sync_to_async(deactivate)()
        closes = [await past_presence(comm) for comm in sockets]
        await database_sync_to_async(boards.comment_add)(panel=panel, author=dana, body="secret")
        quiet = [await comm.receive_nothing(timeout=0.5) for comm in sockets]
        return closes, quiet

    closes, quiet = async_to_sync(run)()
    assert [c["type"] for c in closes] == ["websocket.close", "websocket.close"] and all(quiet)


@pytest.mark.django_db
def test_a_new_password_ends_every_old_token(client, dana):
    key = boards.token_issue(user=dana)
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/projects", headers=headers).status_code == 200
    dana.set_password("a-brand-new-pw-2026")
    dana.save()
    assert client.get("/api/projects", headers=headers).status_code == 401


async def past_presence(comm):
    """The next output that is not a who-is-here update (a page's arrival sends one)."""
    while True:
        output = await comm.receive_output(timeout=5)
        if "presence" not in output.get("text", ""):
            return output


@pytest.mark.django_db(transaction=True)
def test_sockets_opened_with_an_old_password_or_a_revoked_token_close(storyboard, panel, vic, dana):
    token = boards.token_issue(user=vic)
    other = boards.token_issue(user=vic)
    cookie = session_cookie(vic)

    async def run():
        by_token = communicator(f"/ws/storyboards/{storyboard.id}/events", token=token)
        by_other = communicator(f"/ws/storyboards/{storyboard.id}/events", token=other)
        for comm in (by_token, by_other):
            assert (await comm.connect())[0]
            await comm.receive_from()  # hello
        revoked = await database_sync_to_async(vic.api_tokens.get)(key_hash=ApiToken.hash(token))
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
        after = [await past_presence(page), await past_presence(by_other)]
        return closed, after

    closed, after = async_to_sync(run)()
    assert closed["type"] == "websocket.close"
    assert [m["type"] for m in after] == ["websocket.close", "websocket.close"]


def test_tokens_are_listed_and_revoked_by_their_owner_only(api, dana, vic):
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
def test_the_tokens_page_makes_shows_once_and_revokes(client, dana, olga):
    theirs = boards.token_issue(user=olga)
    client.force_login(dana)
    made = client.post("/account/tokens/", {"action": "create"}).content.decode()
    token = ApiToken.objects.get(user=dana)
    assert "shown this once" in made and f"#{token.id}" in made
    olgas = str(ApiToken.objects.get(user=olga).id)
    assert client.post("/account/tokens/", {"token": olgas}).status_code == 404
    assert client.post("/account/tokens/", {"token": "²"}).status_code == 404
    assert client.post("/account/tokens/", {"token": str(token.id)}).status_code == 302
    assert not ApiToken.objects.filter(user=dana).exists()
    assert ApiToken.objects.filter(user=olga).count() == 1 and theirs


# --- 3. Work inside the write transaction on attacker-sized input ------------------------------


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@pytest.mark.django_db(transaction=True)
def test_a_tiny_mask_claiming_4096_pixels_is_refused_from_its_header_outside_any_transaction(
    monkeypatch, api, panel, dana
):
    from django.db import connection

    first = finished_take(panel, dana)
    # 4096x4096, 16-bit RGBA, claimed in 60 bytes: decoding it would take seconds.
    claim = b"\x89PNG\r\n\x1a\n" + png_chunk(
        b"IHDR", struct.pack(">IIBBBBB", 4096, 4096, 16, 6, 0, 0, 0)
    )
    claim += png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + png_chunk(b"IEND", b"")
    decoded_in_transaction = []
    real = media.decode_image

    def watched(*args, **kwargs):
        decoded_in_transaction.append(connection.in_atomic_block)
        return real(*args, **kwargs)

    monkeypatch.setattr(media, "decode_image", watched)
    caller = api(dana)
    inpaint = {"tool": "inpaint", "parent_take": first.id}
    refused = caller.post(
        f"/panels/{panel.id}/takes", {**inpaint, "mask": base64.b64encode(claim).decode()}
    )
    assert refused.status_code == 422
    assert "The mask is 4096x4096; the take is 64x64" in refused.json()["detail"][0]["msg"]
    fits = caller.post(
        f"/panels/{panel.id}/takes", {**inpaint, "mask": base64.b64encode(png(64, 64)).decode()}
    )
    assert fits.status_code == 202
    assert decoded_in_transaction == [False, False]
    assert Take.objects.filter(tool="inpaint").count() == 1


# --- 4. Bodies buffered before they are refused ------------------------------------------------

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


def test_a_socket_that_stops_reading_is_cut_off_not_buffered_forever(
    processes, storyboard, dana, settings
):
    """A reader that never reads (a stuck tab, or an attacker) must not hold the server's memory."""
    token = token_for(dana)
    host, port = processes.studio(SLATE_SOCKET_MAX_UNSENT=2**16).split(":")
    reader = socket.socket()
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reader.connect((host, int(port)))
    reader.sendall(
        f"GET /ws/storyboards/{storyboard.id}/events HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += reader.recv(1)
    assert answer.startswith(b"HTTP/1.1 101")
    channel = events.storyboard_channel(storyboard.id)
    r = redis.Redis.from_url(settings.REDIS_URL)
    wait_for(lambda: r.pubsub_numsub(channel)[0][1] == 1, timeout=10, message="the subscription")
    big = "A" * 65536
    for take in range(150):  # 10 MB of previews, one take each (nothing to coalesce)
        events.publish_now(storyboard.id, "take.preview", {"panel": 1, "take": take, "status": "running",
                                                           "progress": 0.5, "jpeg": big})  # fmt: skip
    assert events.flush(timeout=30)
    # The server let go of it: its process no longer listens to the board for that socket.
    wait_for(lambda: r.pubsub_numsub(channel)[0][1] == 0, timeout=30, message="the cut-off")
    reader.close()


# --- 5. Password guessing ----------------------------------------------------------------------


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
    mine = client.post("/api/auth/token", right, content_type="application/json", **elsewhere)
    assert mine.status_code == 200
    page = client.post("/login/", right, **here)
    assert page.status_code == 429 and "Too many wrong passwords" in page.content.decode()
    assert client.post("/login/", right, **elsewhere).status_code == 302


# --- 6. Self-XSS in an error -------------------------------------------------------------------


@pytest.mark.django_db
def test_a_script_in_a_refused_field_comes_back_escaped(client, dana, storyboard):
    """The issue's 422 on POST /storyboards/{id}/panels/; the browser half is
    tests/test_browser.py::test_a_refusal_shows_escaped_where_the_person_looks."""
    client.force_login(dana)
    attack = "<img src=x onerror=alert(1)>"
    refused = client.post(f"/storyboards/{storyboard.id}/panels/", {"shot_type": attack})
    assert refused.status_code == 422 and refused["HX-Retarget"] == "#board-notice"
    body = refused.content.decode()
    assert "<img" not in body and "&lt;img src=x" in body and 'role="alert"' in body
    assert Panel.objects.count() == 0


# --- 7. 500s -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_huge_ids_and_odd_digits_in_urls_and_forms_are_404s_not_500s(client, dana, project):
    client.force_login(dana)
    for url in ("/projects/99999999999999999999/", "/storyboards/99999999999999999999/",
                "/panels/99999999999999999999/card/"):  # fmt: skip
        assert client.get(url).status_code == 404, url
    for member in ("²", "99999999999999999999", "١"):  # a superscript two, an Arabic-Indic one
        answer = client.post(
            f"/projects/{project.id}/members/", {"action": "remove", "member": member}
        )
        assert answer.status_code == 404, member
    assert project.memberships.count() == 3


@pytest.mark.django_db(transaction=True)
def test_unknown_socket_paths_and_huge_socket_ids_close_cleanly_not_500s(storyboard, vic):
    """A crash in the router or a consumer would raise out of connect(); a clean refusal closes."""
    token = boards.token_issue(user=vic)
    paths = ("/ws/nothing", "/ws/storyboards/1/other",
             "/ws/storyboards/99999999999999999999999/events")  # fmt: skip

    async def run():
        answers = {}
        for path in paths:
            comm = communicator(path, token=token)
            answers[path] = await comm.connect()
            await comm.disconnect()
        return answers

    # Refused before the handshake with a normal close (1000), as an outsider is.
    assert async_to_sync(run)() == dict.fromkeys(paths, (False, 1000))


# --- 8. No quotas ------------------------------------------------------------------------------


def test_a_member_cannot_queue_unbounded_takes_on_a_panel(api, client, panel, settings):
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
    for i in range(3):
        boards.panel_create(storyboard=storyboard, user=panel.created_by, prompt=f"shot {i}")
    settings.SLATE_MAX_WAITING = 3
    answer = api(panel.created_by).post(f"/storyboards/{storyboard.id}/generate-all")
    assert answer.status_code == 429 and "4 more takes" in answer.json()["detail"][0]["msg"]
    assert not Take.objects.exists()


# --- 9. An allowed take that cannot finish -----------------------------------------------------


def test_a_take_the_model_cannot_finish_in_time_is_refused_at_request_time(api, panel):
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


# --- 10. Deploy settings -----------------------------------------------------------------------


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


# --- 11. Media cache ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_media_is_revalidated_so_a_removed_member_keeps_nothing(client, project, panel, dana, vic):
    take = finished_take(panel, dana)
    url = f"/media/{take.image.name}"
    client.force_login(vic)
    first = client.get(url)
    assert first.status_code == 200 and first["Cache-Control"] == "private, no-cache"
    again = client.get(url, headers={"If-None-Match": first["ETag"]})
    assert again.status_code == 304 and again["ETag"] == first["ETag"]
    boards.member_remove(membership=project.memberships.get(user=vic))
    assert client.get(url, headers={"If-None-Match": first["ETag"]}).status_code == 404
