"""What a panel card shows, built one way for the first page load, the htmx answer and the live
swap alike; and the renderers of the page regions live events refresh (studio/events.py).

Templates take a `card` (see `panel_card`) and `oob`, the out-of-band swap to announce when the
fragment travels over the socket. A region is rendered once per event batch, once per role
variant where editors and viewers see it differently, never once per viewer.
"""

import re
from difflib import SequenceMatcher
from urllib.parse import quote

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from generation import services as take_services
from generation.ledger import panel_ledger
from generation.models import Status, Take, Tool
from generation.registry import default_model, model_get
from generation.selectors import bulk_run, queue_position_map
from studio.events import ALL, EDIT, VIEW, region_renderer

from . import scripts, selectors, services
from .models import (
    STATUS_ACTION,
    Action,
    AspectRatio,
    CameraMove,
    Comment,
    Panel,
    ReviewStatus,
    ShotType,
    Storyboard,
)

BLANK = (
    "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"  # 1x1, clear
)
VARIANTS = {EDIT: True, VIEW: False}  # variant: can_edit


def media_url(name: str) -> str:
    """reverse('media', name) without a resolver walk per thumbnail (hundreds per board)."""
    return _media_prefix() + quote(name)


def _media_prefix(cache={}) -> str:  # noqa: B006  (computed once per process)
    if "prefix" not in cache:
        cache["prefix"] = reverse("media", args=["x"])[:-1]
    return cache["prefix"]


def panel_card(panel: Panel, *, can_edit: bool, positions: dict | None = None) -> dict:
    """A card's context from a panel fetched by `selectors.panels_for_storyboard` or
    `panels_for_cards` (no query here, unless a take waits in the queue and no `positions`
    were given)."""
    active = panel.active_takes
    running = [t for t in active if t.status == Status.RUNNING]
    # The running take is the one to watch; otherwise the next in line.
    current = running[0] if running else active[0] if active else None
    if current is not None and current.status == Status.QUEUED and positions is None:
        positions = queue_position_map()
    selected = panel.selected_take
    return {
        "panel": panel, "can_edit": can_edit, "current": current,
        "waiting": len(active) - 1 if current else 0,
        "position": (positions or {}).get(current.id) if current else None,
        "percent": round(100 * current.progress) if current else 0,
        "failed": panel.last_failed, "selected": selected, "still": _still(selected),
        "comment_count": panel.comment_count, "text": panel_text(panel),
    }  # fmt: skip


def _still(selected) -> str:
    return media_url(selected.image.name) if selected and selected.image else BLANK


def storyboard_cards(storyboard, *, can_edit: bool) -> list[dict]:
    """Every panel's card, in order."""
    positions = queue_position_map()
    panels = selectors.panels_for_storyboard(storyboard=storyboard)
    return [panel_card(p, can_edit=can_edit, positions=positions) for p in panels]


def seconds(duration_ms: int) -> str:
    """2500 -> '2.5 s'."""
    return f"{duration_ms / 1000:g} s"


def running_time(duration_ms: int) -> str:
    """84_500 -> '1:25', as an editor reads a cut's length."""
    total = (duration_ms + 500) // 1000  # half a second rounds up (round() goes to even)
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def board_head(storyboard) -> dict:
    summary = selectors.board_summary(storyboard_id=storyboard.id)
    return {"storyboard": storyboard, "panels": summary["panels"],
            "running_time": running_time(summary["duration_ms"]),
            "review": [(value, label, summary["statuses"][value])
                       for value, label in ReviewStatus.choices
                       if value != ReviewStatus.DRAFT and summary["statuses"][value]]}  # fmt: skip


def review_actions(panel: Panel, membership) -> dict:
    """The inspector's review row: each status, and whether this person may set it."""
    locked = panel.status == ReviewStatus.APPROVED and not membership.may(Action.SUPERVISE)
    return {"panel": panel, "can_edit": membership.can_edit, "locked": locked, "choices": [
        (value, label, membership.may(STATUS_ACTION[value]) and not locked)
        for value, label in ReviewStatus.choices
    ]}  # fmt: skip


def review_side(panel: Panel, membership) -> dict:
    """Review mode, beside the frame: the panel's words, its status, the takes comments were
    made on (a pin is drawn on its own take's frame), and the threads."""
    threads = selectors.comment_threads(panel=panel)
    on_takes = {t.take_id for t in threads if t.take_id} | {panel.selected_take_id}
    takes = Take.objects.filter(pk__in=[t for t in on_takes if t], panel=panel).only(
        "id", "image", "video", "panel_id"
    )
    return {
        "panel": panel, "number": panel.position + 1, "membership": membership,
        "text": panel_text(panel), "review": review_actions(panel, membership),
        "comments": threads, "selected": panel.selected_take,
        "frames": [(t.id, media_url(t.image.name)) for t in takes if t.image],
        "seconds": seconds(panel.duration_ms),
    }  # fmt: skip


# A screenplay's cue: a name in capitals, maybe with an extension: MARA, DR. OKAFOR (V.O.).
CUE = re.compile(r"^[A-Z0-9][A-Z0-9 .'\-]*[A-Z0-9.](?: \([A-Z0-9 .'\-]+\))?$")


def dialogue_lines(text: str) -> list[tuple[str, str]]:
    """Dialogue as a screenplay sets it: [(kind, text)] with kind "cue" (the character, caps),
    "paren" (a parenthetical) or "line". `MARA: Run.` is a cue and its line."""
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        name, colon, rest = line.partition(":")
        cue = line.removesuffix(":")  # `MARA:` on a line of its own names who speaks next
        if colon and rest.strip() and CUE.match(name.strip()) and any(c.isalpha() for c in name):
            out += [("cue", name.strip()), ("line", rest.strip())]
        elif line.startswith("(") and line.endswith(")"):
            out.append(("paren", line))
        elif CUE.match(cue) and any(c.isalpha() for c in cue) and len(cue) <= 40:
            out.append(("cue", cue))
        else:
            out.append(("line", line))
    return out


def panel_text(panel: Panel) -> dict:
    """The card's words: slug line facts and the action, dialogue and notes to set."""
    facts = [panel.get_shot_type_display() if panel.shot_type else "",
             panel.get_camera_move_display() if panel.camera_move != "static" else "",
             seconds(panel.duration_ms)]  # fmt: skip
    return {"facts": " · ".join(f for f in facts if f), "dialogue": dialogue_lines(panel.dialogue)}


def inspector(panel: Panel, membership) -> dict:
    """The panel inspector: every field, the tools that can run, every take, the thread."""
    takes = selectors.takes_for_panels(panel_ids=[panel.id])[panel.id]
    selected = panel.selected_take
    source = (
        selected if selected and selected.image and selected.status == Status.SUCCEEDED else None
    )
    models = [model_get(key) for key in settings.SLATE_MODELS]
    default = default_model()
    return {
        "panel": panel, "membership": membership, "can_edit": membership.can_edit,
        "number": panel.position + 1,
        "source": source, "models": models, "default_model": default,
        "tools": [(value, label, value in ("variation", "inpaint", "upscale") and not source)
                  for value, label in Tool.choices],
        "takes": takes_list(panel, takes, can_edit=membership.can_edit),
        "comments": selectors.comment_threads(panel=panel),
        "shot_types": ShotType.choices, "camera_moves": CameraMove.choices,
        "aspect_ratios": AspectRatio.choices, "prompt_limit": settings.SLATE_MAX_PROMPT,
        "text_limit": services.TEXT_LIMIT, "duration_s": f"{panel.duration_ms / 1000:g}",
        "limits": {"guidance": take_services.GUIDANCE_RANGE, "min_frames": take_services.MIN_FRAMES},
        "script_link": script_link(panel), "ledger": panel_ledger(panel),
        "review": review_actions(panel, membership),
        "styles": list(panel.storyboard.project.style_presets.order_by("name")),
    }  # fmt: skip


def script_link(panel: Panel) -> dict | None:
    """Where a panel made from a script stands: the text it took and what the script says now."""
    if not panel.script_status or panel.scene_id is None:
        return None
    script = panel.scene.script
    link = scripts.link_of(panel, scripts.parsed_latest(script))
    return {
        "panel": panel, "script": script, "status": panel.script_status,
        "label": panel.get_script_status_display(), "before": panel.script_text,
        "after": link.text, "first_line": panel.script_first_line,
        "last_line": panel.script_last_line,
    }  # fmt: skip


def takes_list(panel: Panel, takes: list, *, can_edit: bool, positions: dict | None = None) -> dict:
    """The inspector's takes, newest first, each take's variations, inpaints and upscales under
    it: each in words (who, when, tool, model, seed) and where it came from. No query beyond
    the queue's, whatever the number of takes: the lineage is read from `parent_id`."""
    if positions is None:
        positions = queue_position_map() if any(t.status == Status.QUEUED for t in takes) else {}
    items = [{"take": t, "thumb": media_url(t.image.name) if t.image else None,
              "position": positions.get(t.id), "icon": TOOL_ICONS[t.tool]} for t in takes]  # fmt: skip
    return {"panel": panel, "can_edit": can_edit, "selected_id": panel.selected_take_id,
            "items": _lineage(items)}  # fmt: skip


TOOL_ICONS = {Tool.TEXT2IMAGE: "✦", Tool.VARIATION: "≈", Tool.INPAINT: "✎", Tool.UPSCALE: "⤢",
              Tool.VIDEO: "▶"}  # fmt: skip
LINEAGE_DEPTH = 4  # deeper generations line up at this indent: a phone has no room for more


def _lineage(items: list[dict]) -> list[dict]:
    """Roots newest first, each followed by its descendants (newest first too), with `depth`
    and `origin`: "here" (its parent is in this list), "elsewhere" (a take of another panel: a
    duplicated panel's picture), "gone" (a tool that starts from a take whose take was deleted)
    or None."""
    here = {item["take"].id for item in items}
    children: dict[int, list[dict]] = {}
    roots = []
    for item in items:
        take = item["take"]
        if take.parent_id in here:
            item["origin"] = "here"
            children.setdefault(take.parent_id, []).append(item)
            continue
        roots.append(item)
        if take.parent_id is not None:
            item["origin"] = "elsewhere"
        else:  # the parent's row went (SET_NULL): a tool that needs one says so
            item["origin"] = "gone" if take.tool in take_services.IMAGE_PARENT_TOOLS else None
    ordered, stack = [], [(item, 0) for item in reversed(roots)]
    while stack:  # depth first without recursion: a chain of inpaints may be long
        item, depth = stack.pop()
        item["depth"] = min(depth, LINEAGE_DEPTH)
        item["children"] = len(children.get(item["take"].id, ()))
        ordered.append(item)
        stack += [(child, depth + 1) for child in reversed(children.get(item["take"].id, ()))]
    return ordered


def take_compare(a, b) -> dict:
    """Two takes side by side: their pictures, and every parameter that made them, the ones
    that differ marked (the prompts word by word)."""
    rows = [_compare_row(label, value(a), value(b)) for label, value in COMPARED
            if value(a) != "—" or value(b) != "—"]  # fmt: skip
    rows[0]["a_words"], rows[0]["b_words"] = _word_diff(a.prompt, b.prompt)
    return {"a": _compared(a), "b": _compared(b), "rows": rows,
            "differences": sum(row["differs"] for row in rows)}  # fmt: skip


def _compared(take) -> dict:
    return {"take": take, "image": media_url(take.image.name) if take.image else None}


def _shown(value) -> str:
    return "—" if value in (None, "") else f"{value:g}" if isinstance(value, float) else str(value)


COMPARED = (  # label, the take's value in words ("—": none); rows where both say "—" are left out
    ("Prompt as sent", lambda t: t.prompt or "—"),
    ("Negative prompt", lambda t: t.negative_prompt or "—"),
    ("Tool", lambda t: t.get_tool_display()),
    ("Model", lambda t: t.model_key + (f" @ {t.model_revision}" if t.model_revision else "")),
    ("Seed", lambda t: _shown(t.seed)),
    ("Steps", lambda t: _shown(t.steps)),
    ("Guidance", lambda t: _shown(t.guidance)),
    ("Size", lambda t: f"{t.width}×{t.height}"),
    ("Strength", lambda t: _shown(t.strength)),
    ("Scale", lambda t: f"{t.scale}×" if t.scale else "—"),
    ("Frames", lambda t: _shown(t.num_frames)),
    ("Reference image", lambda t: "yes" if t.reference else "—"),
    ("From take", lambda t: _shown(t.parent_id)),
    ("By", lambda t: t.author.username),
)


def _compare_row(label: str, a: str, b: str) -> dict:
    return {"label": label, "a": a, "b": b, "differs": a != b}


DIFF_WORDS = 2000  # a prompt as sent is a few hundred; matching grows with the square of it


def _word_diff(a: str, b: str) -> tuple[list, list]:
    """Each prompt as [(words, changed)]: the words one has and the other lacks are `changed`.
    Prompts longer than any model reads (an imported take's) are marked whole if they differ:
    matching them word by word would hold the web process for minutes."""
    words_a, words_b = a.split(), b.split()
    if max(len(words_a), len(words_b)) > DIFF_WORDS:
        return [(a, a != b)], [(b, a != b)]
    side_a, side_b = [], []
    matcher = SequenceMatcher(None, words_a, words_b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if i2 > i1:
            side_a.append((" ".join(words_a[i1:i2]), op != "equal"))
        if j2 > j1:
            side_b.append((" ".join(words_b[j1:j2]), op != "equal"))
    return side_a, side_b


def recall_settings(take) -> dict:
    """What the Generate form needs to make this take again (the panel has no fields for them):
    for the page's form and for scripts, which may post them to /api/panels/{id}/takes."""
    return {"tool": take.tool, "model": take.model_key, "seed": take.seed, "steps": take.steps,
            "guidance": take.guidance, "width": take.width, "height": take.height,
            "strength": take.strength, "scale": take.scale, "num_frames": take.num_frames,
            "fps": take.fps, "parent_take": take.parent_id}  # fmt: skip


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
    return any(t.status == Status.QUEUED for t in panel.active_takes)


@region_renderer("panel.meta")
def render_meta(payloads: list[dict]) -> dict:
    panels = _cards_by_id(p["panel"] for p in payloads)
    return {
        panel.id: {ALL: render_to_string("storyboards/_panel_meta.html",
                                         {"card": panel_card(panel, can_edit=False, positions={}),
                                          "oob": True})}
        for panel in panels.values()
    }  # fmt: skip


@region_renderer("panel.takes")
def render_takes(payloads: list[dict]) -> dict:
    """The inspector's takes list; pages without that panel's inspector open drop it.
    Two queries and one queue read per batch, whatever the number of panels."""
    panels = Panel.all_objects.filter(pk__in=[p["panel"] for p in payloads])
    takes = selectors.takes_for_panels(panel_ids=[p["panel"] for p in payloads])
    waiting = any(t.status == Status.QUEUED for rows in takes.values() for t in rows)
    positions = queue_position_map() if waiting else {}
    return {
        panel.id: {
            variant: render_to_string("storyboards/_takes.html", {"oob": True, "takes": takes_list(
                panel, takes[panel.id], can_edit=can_edit, positions=positions)})
            for variant, can_edit in VARIANTS.items()
        }
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


@region_renderer("panel.gone")
def render_gone(payloads: list[dict]) -> dict:
    return {
        p["panel"]: {ALL: f'<article id="panel-{int(p["panel"])}" hx-swap-oob="delete"></article>'}
        for p in payloads
    }


@region_renderer("board.head")
def render_head(payloads: list[dict]) -> dict:
    boards = Storyboard.objects.filter(pk__in=[p["storyboard"] for p in payloads])
    return {
        board.id: {ALL: render_to_string("storyboards/_board_head.html",
                                         {"head": board_head(board), "oob": True})}
        for board in boards
    }  # fmt: skip


@region_renderer("board.gone")
def render_board_gone(payloads: list[dict]) -> dict:
    return {
        p["storyboard"]: {ALL: render_to_string("storyboards/_board_gone.html", {"oob": True})}
        for p in payloads
    }


@region_renderer("comment.item")
def render_comments(payloads: list[dict]) -> dict:
    comments = (
        Comment.objects.filter(pk__in=[p["comment"] for p in payloads])
        .select_related("author")
        .prefetch_related("mentions")
    )
    rendered = {}
    for c in comments:
        c.pin_number = selectors.pin_number(c)
        rendered[c.id] = {ALL: render_to_string("storyboards/_comment_added.html", {"comment": c})}
    return rendered


@region_renderer("comment.thread")
def render_threads(payloads: list[dict]) -> dict:
    rendered = {}
    for payload in payloads:
        root = Comment.objects.select_related("panel").filter(pk=payload["comment"]).first()
        if root is None:
            continue
        thread = next(
            (t for t in selectors.comment_threads(panel=root.panel) if t.id == root.id), None
        )
        if thread is not None:
            rendered[root.id] = {ALL: render_to_string(
                "storyboards/_comment.html", {"comment": thread, "oob": True})}  # fmt: skip
    return rendered


@region_renderer("board.presence")
def render_presence(payloads: list[dict]) -> dict:
    return {
        p["storyboard"]: {ALL: render_to_string(
            "storyboards/_board_presence.html", {"people": p["people"], "oob": True})}
        for p in payloads
    }  # fmt: skip


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
