"""What a panel card shows, built one way for the first page load, the htmx answer and the live
swap alike; and the renderers of the page regions live events refresh (studio/events.py).

Templates take a `card` (see `panel_card`) and `oob`, the out-of-band swap to announce when the
fragment travels over the socket. A region is rendered once per event batch, once per role
variant where editors and viewers see it differently, never once per viewer.
"""

from urllib.parse import quote

from django.template.loader import render_to_string
from django.urls import reverse

from generation.models import Status
from generation.selectors import bulk_run, queue_position_map
from studio.events import ALL, EDIT, VIEW, region_renderer

from . import selectors
from .models import Comment, Panel

BLANK = (
    "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"  # 1x1, clear
)
VARIANTS = {EDIT: True, VIEW: False}  # variant: can_edit
# A board opens with this many full cards; the rest arrive as light cards (frame and caption)
# that hydrate when scrolled into view or focused: a 500-panel board opens as fast as a small one.
FULL_CARDS = 12


def media_url(name: str) -> str:
    """reverse('media', name) without a resolver walk per thumbnail (hundreds per board)."""
    return _media_prefix() + quote(name)


def _media_prefix(cache={}) -> str:  # noqa: B006  (computed once per process)
    if "prefix" not in cache:
        cache["prefix"] = reverse("media", args=["x"])[:-1]
    return cache["prefix"]


def panel_card(panel: Panel, *, can_edit: bool, positions: dict | None = None) -> dict:
    """A card's context from a panel fetched by `selectors.panels_for_storyboard` or
    `panel_for_card` (takes and comments prefetched: no query here, unless a take waits in
    the queue and no `positions` were given)."""
    takes = list(panel.takes.all())
    running = [t for t in takes if t.status == Status.RUNNING]
    queued = [t for t in takes if t.status == Status.QUEUED]
    # The running take is the one to watch; otherwise the next in line.
    current = running[0] if running else queued[0] if queued else None
    if current is not None and current.status == Status.QUEUED and positions is None:
        positions = queue_position_map()
    latest = takes[-1] if takes else None
    selected = panel.selected_take
    return {
        "panel": panel, "can_edit": can_edit, "takes": takes, "current": current,
        "finished": [t for t in takes if t.status == Status.SUCCEEDED],
        "waiting": len(running) + len(queued) - 1 if current else 0,
        "position": (positions or {}).get(current.id) if current else None,
        "percent": round(100 * current.progress) if current else 0,
        "failed": latest if latest is not None and latest.status == Status.FAILED else None,
        "selected": selected,
        "still": _still(selected),
        "thumbs": [(t, media_url(t.image.name)) for t in takes if t.status == Status.SUCCEEDED],
        "comments": list(panel.comments.all()),
    }  # fmt: skip


def _still(selected) -> str:
    return media_url(selected.image.name) if selected and selected.image else BLANK


def light_card(panel: Panel) -> dict:
    """A card before it hydrates: its frame and caption, from the panel row alone."""
    return {"panel": panel, "light": True, "still": _still(panel.selected_take)}


def storyboard_cards(storyboard, *, can_edit: bool) -> list[dict]:
    """Every panel in order: the first FULL_CARDS as full cards, the rest light."""
    positions = queue_position_map()
    panels = selectors.panels_for_storyboard(storyboard=storyboard, full=FULL_CARDS)
    return [
        panel_card(p, can_edit=can_edit, positions=positions) if i < FULL_CARDS else light_card(p)
        for i, p in enumerate(panels)
    ]


def _by_role(template: str, cards_for, **extra) -> dict:
    """{variant: html} of a role-dependent region."""
    return {
        variant: render_to_string(template, {"card": cards_for(can_edit), "oob": True, **extra})
        for variant, can_edit in VARIANTS.items()
    }


def bulk_card(storyboard_id: int, *, can_edit: bool) -> dict:
    """The board's "Generate all" run, as its header shows it. One query."""
    run = bulk_run(storyboard_id=storyboard_id)
    if run and run["eta_s"] is not None:
        seconds = round(run["eta_s"])
        run["eta"] = f"{seconds} s" if seconds < 90 else f"{round(seconds / 60)} min"
    return {"storyboard_id": storyboard_id, "run": run, "can_edit": can_edit}


# --- live regions ----------------------------------------------------------------------------


def _cards_by_id(panel_ids) -> dict[int, Panel]:
    return {p.id: p for p in selectors.panels_for_cards(panel_ids=panel_ids)}


@region_renderer("panel.frame")
def render_frames(payloads: list[dict]) -> dict:
    panels = _cards_by_id(p["panel"] for p in payloads)
    positions = queue_position_map() if any(_waits(p) for p in panels.values()) else {}
    return {
        panel_id: _by_role(
            "storyboards/_panel_frame.html",
            lambda can_edit, p=panel: panel_card(p, can_edit=can_edit, positions=positions),
        )
        for panel_id, panel in panels.items()
    }


def _waits(panel: Panel) -> bool:
    return any(t.status == Status.QUEUED for t in panel.takes.all())


@region_renderer("panel.meta")
def render_meta(payloads: list[dict]) -> dict:
    panels = Panel.objects.filter(pk__in=[p["panel"] for p in payloads])
    return {
        panel.id: {ALL: render_to_string("storyboards/_panel_meta.html", {"card": {"panel": panel}, "oob": True})}
        for panel in panels
    }  # fmt: skip


@region_renderer("panel.card")
def render_placed(payloads: list[dict]) -> dict:
    """The whole card where the panel now stands, before its next panel (see _panel_placed.html)."""
    payloads_by_panel = {p["panel"]: p for p in payloads}
    panels = _cards_by_id(payloads_by_panel)
    positions = queue_position_map() if any(_waits(p) for p in panels.values()) else {}
    order = selectors.panel_order(storyboard_ids={p.storyboard_id for p in panels.values()})
    out = {}
    for panel_id, panel in panels.items():
        ids = order[panel.storyboard_id]
        at = ids.index(panel_id)
        following = ids[at + 1] if at + 1 < len(ids) else None
        out[panel_id] = _by_role(
            "storyboards/_panel_placed.html",
            lambda can_edit, p=panel: panel_card(p, can_edit=can_edit, positions=positions),
            following=following,
            moved=payloads_by_panel[panel_id].get("position") is not None,
        )
    return out


@region_renderer("comment.item")
def render_comments(payloads: list[dict]) -> dict:
    comments = Comment.objects.filter(pk__in=[p["comment"] for p in payloads]).select_related(
        "author"
    )
    return {
        c.id: {ALL: render_to_string("storyboards/_comment_added.html", {"comment": c})}
        for c in comments
    }


@region_renderer("take.bar")
def render_bars(payloads: list[dict]) -> dict:
    return {
        p["take"]: {ALL: render_to_string("storyboards/_take_bar.html", {
            "take_id": p["take"], "percent": round(100 * p["progress"]), "oob": True})}
        for p in payloads
    }  # fmt: skip


@region_renderer("take.preview")
def render_previews(payloads: list[dict]) -> dict:
    return {
        p["take"]: {ALL: render_to_string("storyboards/_take_preview.html", {
            "panel_id": p["panel"], "take_id": p["take"],
            "src": f"data:image/jpeg;base64,{p['jpeg']}", "oob": True})}
        for p in payloads
    }  # fmt: skip


@region_renderer("queue.positions")
def render_queue(payloads: list[dict]) -> dict:
    return {
        p["storyboard"]: {ALL: render_to_string("storyboards/_queue_positions.html", {
            "positions": [(int(t), n) for t, n in p["positions"].items()]})}
        for p in payloads
    }  # fmt: skip


@region_renderer("board.bulk")
def render_bulk(payloads: list[dict]) -> dict:
    return {
        p["storyboard"]: {
            variant: render_to_string("storyboards/_board_bulk.html",
                                      {"bulk": bulk_card(p["storyboard"], can_edit=can_edit), "oob": True})
            for variant, can_edit in VARIANTS.items()
        }
        for p in payloads
    }  # fmt: skip
