"""What a live event looks like on an htmx storyboard page: HTML fragments swapped out of band.

Progress, previews and queue positions are rendered from the event alone (they come often);
anything else re-renders the affected region from the database, for this viewer's role.
Every fragment replaces an element by id, so the same event applied twice changes nothing.
"""

from channels.db import database_sync_to_async
from django.template.loader import render_to_string
from django.utils.html import format_html, format_html_join

from .models import Membership, Panel


def progress_html(data: dict) -> str:
    percent = round(100 * data["progress"])
    return format_html(
        '<div id="take-{}-bar" class="bar" hx-swap-oob="true" role="progressbar" aria-valuenow="{}" '
        'aria-valuemin="0" aria-valuemax="100"><span style="width:{}%"></span></div>',
        data["take"],
        percent,
        percent,
    )


def preview_html(data: dict) -> str:
    return format_html(
        '<img id="panel-{}-preview" class="frame-img preview" hx-swap-oob="true" alt="Forming…" '
        'src="data:image/jpeg;base64,{}">',
        data["panel"],
        data["jpeg"],
    )


def queue_html(data: dict) -> str:
    return format_html_join(
        "",
        '<span id="take-{}-queue" class="queue" hx-swap-oob="true">#{} in queue</span>',
        ((take_id, position) for take_id, position in data["positions"].items()),
    )


def region_html(event: str, data: dict, membership: Membership) -> str:
    from .selectors import panel_for_card
    from .views import panel_context

    if event == "panel.moved":
        order = Panel.objects.filter(storyboard=data["storyboard"]).order_by("position")
        ids = ",".join(str(pk) for pk in order.values_list("pk", flat=True))
        return format_html('<div id="panel-order" hx-swap-oob="true" data-order="{}"></div>', ids)
    if "panel" not in data:
        return ""  # about people, not panels: nothing on the page changes
    panel = panel_for_card(panel_id=data["panel"])
    if panel is None:
        return ""
    context = panel_context(panel, membership) | {"oob": True}
    template = {
        "panel.created": "storyboards/_panel_new.html",
        "panel.updated": "storyboards/_panel_meta.html",
        "comment.created": "storyboards/_comments.html",
    }.get(event, "storyboards/_panel_frame.html")
    return render_to_string(template, context)


CHEAP = {"take.progress": progress_html, "take.preview": preview_html, "queue.updated": queue_html}


async def render_event(event: str, data: dict, membership: Membership) -> str:
    if event in CHEAP:
        return CHEAP[event](data)
    return await database_sync_to_async(region_html)(event, data, membership)
