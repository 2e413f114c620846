"""Scripts live (issue 10): the script page's socket hears every save, and boards hear their
panels' script flags, over the real Redis hub."""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from storyboards import scripts
from storyboards import services as boards
from tests.test_live_updates import communicator, events_until, live_until
from tests.test_scripts import DINER

pytestmark = pytest.mark.django_db(transaction=True)


def test_script_socket_hears_saves_and_refuses_outsiders(project, dana, vic, olga):
    script = scripts.script_create(project=project, user=dana, title="Pilot", text=DINER)
    viewer, outsider = boards.token_issue(user=vic), boards.token_issue(user=olga)

    async def run():
        refused = communicator(f"/ws/scripts/{script.id}/events", token=outsider)
        assert not (await refused.connect())[0]
        comm = communicator(f"/ws/scripts/{script.id}/events", token=viewer)
        assert (await comm.connect())[0]
        hello = json.loads(await comm.receive_from())
        assert hello["type"] == "hello" and hello["storyboard"] == f"script-{script.id}"
        await database_sync_to_async(scripts.script_save)(
            script=script, user=dana, text=DINER + "\nMara drives.\n", base_version=1
        )
        saved, _ = await events_until(comm, "script.saved")
        assert (saved["script"], saved["version"], saved["by"]) == (script.id, 2, "dana")
        await comm.disconnect()

    async_to_sync(run)()


def test_open_board_sees_script_changed_on_the_card(project, dana):
    from tests.test_live_updates import session_cookie

    script = scripts.script_create(project=project, user=dana, title="Pilot", text=DINER)
    board = scripts.storyboard_from_scene(scene=script.scenes.get(position=0), user=dana)
    cookie = session_cookie(dana)

    async def run():
        comm = communicator(f"/ws/storyboards/{board.id}/live", cookie=cookie,
                            origin="http://localhost:8000")  # fmt: skip
        assert (await comm.connect())[0]
        await comm.receive_from()  # hello
        await database_sync_to_async(scripts.script_save)(
            script=script, user=dana, text=DINER.replace("Not yet.", "Not now."), base_version=1
        )
        text = await live_until(comm, "Script changed")
        assert "script-flag changed" in text
        await comm.disconnect()

    async_to_sync(run)()
