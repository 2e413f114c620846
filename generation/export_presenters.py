"""How an export shows in the board's export dialog, on the page and live (region export.row)."""

from django.template.loader import render_to_string

from studio.events import ALL, region_renderer

from .export_services import export_download_url
from .models import Export


def export_row(export: Export) -> dict:
    return {
        "export": export,
        "percent": round(100 * export.progress),
        "download_url": export_download_url(export),
        "srt_url": export_download_url(export, "srt"),
        "layout": export.options.get("layout"),
    }


@region_renderer("export.row")
def render_export_rows(payloads: list[dict]) -> dict:
    """The rows the events touch, one query per batch. A progress event carries a fresher
    fraction than the row's last heartbeat: the row shows the event's."""
    progress = {p["export"]: p["progress"] for p in payloads if "progress" in p}
    exports = Export.objects.filter(pk__in=[p["export"] for p in payloads]).select_related(
        "requested_by"
    )
    out = {}
    for export in exports:
        row = export_row(export)
        if export.id in progress and export.status == "running":
            row["percent"] = round(100 * progress[export.id])
        out[export.id] = {ALL: render_to_string("generation/_export_placed.html", row)}
    return out
