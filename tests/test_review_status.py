"""Panel review status (issue 11): draft -> in review -> changes requested -> approved, who may
set which, every decision kept, shown live on the card and in the board's summary."""

import pytest

from storyboards import services
from storyboards.models import StatusChange
from tests.conftest import token_for

pytestmark = pytest.mark.django_db


def post_status(client, user, panel, status):
    return client.post(f"/api/panels/{panel.id}/status", {"status": status},
                       content_type="application/json",
                       headers={"Authorization": f"Bearer {token_for(user)}"})  # fmt: skip


def test_editors_ask_for_review_and_directors_approve(client, project, panel, dana, arti):
    services.member_add(project=project, username=_director(), role="director")
    asked = post_status(client, arti, panel, "in_review")
    assert asked.status_code == 200 and asked.json()["status"] == "in_review"
    refused = post_status(client, arti, panel, "approved")
    assert refused.status_code == 403 and "artist" in refused.json()["detail"]
    panel.refresh_from_db()
    assert panel.status == "in_review"
    from django.contrib.auth import get_user_model

    director = get_user_model().objects.get(username="dir")
    assert post_status(client, director, panel, "changes_requested").status_code == 200
    assert post_status(client, dana, panel, "approved").json()["status"] == "approved"
    history = list(
        StatusChange.objects.filter(panel=panel).values_list("previous", "status", "by__username")
    )
    assert history == [("draft", "in_review", "arti"), ("in_review", "changes_requested", "dir"),
                       ("changes_requested", "approved", "dana")]  # fmt: skip


def _director():
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("dir", password="dir-secret-pw")
    return "dir"


def test_viewers_cannot_change_status_and_outsiders_get_404(client, panel, vic, olga):
    assert post_status(client, vic, panel, "in_review").status_code == 403
    assert post_status(client, olga, panel, "in_review").status_code == 404
    assert post_status(client, vic, panel, "bogus").status_code in (403, 422)
    panel.refresh_from_db()
    assert panel.status == "draft" and not StatusChange.objects.exists()


def test_the_board_shows_each_status_and_its_summary(client, storyboard, panel, dana, arti):
    client.force_login(arti)
    answer = client.post(
        f"/panels/{panel.id}/status/", {"status": "in_review"}, HTTP_HX_REQUEST="true"
    )
    assert answer.status_code == 200 and 'aria-pressed="true"' in answer.content.decode()
    assert "disabled" in answer.content.decode()  # an artist cannot approve
    page = client.get(f"/storyboards/{storyboard.id}/").content.decode()
    assert "status-pill status-in_review" in page and "1 in review" in page
    assert client.post(f"/panels/{panel.id}/status/", {"status": "approved"}).status_code == 403


def test_a_status_change_reaches_the_card_and_the_board_head(
    panel, dana, project, django_capture_on_commit_callbacks
):
    from studio import events

    membership = project.memberships.get(user=dana)
    with events.captured() as sent, django_capture_on_commit_callbacks(execute=True):
        services.panel_set_status(panel=panel, membership=membership, status="approved")
    rendered = events.render_batch(sent)
    html = "".join(str(m["html"]) for m in rendered if m["event"] == "panel.updated")
    assert "status-pill status-approved" in html and "1 approved" in html


def test_only_directors_and_owners_take_an_approval_back(client, project, panel, dana, arti):
    assert post_status(client, dana, panel, "approved").status_code == 200
    undone = post_status(client, arti, panel, "draft")
    assert undone.status_code == 403 and "reopen an approved panel" in undone.json()["detail"]
    panel.refresh_from_db()
    assert panel.status == "approved" and StatusChange.objects.count() == 1
    client.force_login(arti)
    row = client.get(f"/panels/{panel.id}/inspector/").content.decode()
    assert row.count("only directors and owners reopen it") == 4  # every choice, disabled
    assert post_status(client, dana, panel, "changes_requested").status_code == 200
    assert post_status(client, arti, panel, "in_review").status_code == 200  # open again
