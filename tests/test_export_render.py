"""Export renderers: the PDF board, the animatic (MP4 and .srt) and the ZIP of takes, made from
real boards, panels and takes with PNG files, through `render_export` as the export job calls it."""

import base64
import hashlib
import io
import json
import re
import subprocess
import sys
import types
import zipfile
import zlib
from pathlib import Path

import imageio_ffmpeg
import pytest
from django.core.files.base import ContentFile
from PIL import Image

from generation.exporters import render_export
from generation.exporters.animatic import FPS, still_compose
from generation.exporters.frames import JpegCopies
from generation.exporters.sheet import sheet_read
from generation.exporters.text import wrap_lines
from generation.models import Take
from storyboards import services as boards
from storyboards.models import Panel

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def c2pa_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("c2pa")  # one certificate for every test: made once


@pytest.fixture(autouse=True)
def signing(settings, c2pa_dir):
    settings.SLATE_C2PA_CERT = c2pa_dir / "chain.pem"
    settings.SLATE_C2PA_KEY = c2pa_dir / "signer.key"


def png(color=(200, 60, 40), size=(64, 36)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def selected_take(panel, author, color=(200, 60, 40), **fields) -> Take:
    """A succeeded take with a real PNG, selected on its panel."""
    fields = {"model_key": "tiny", "model_revision": "r1", "prompt": panel.prompt, "seed": 7,
              "steps": 2, "guidance": 1.0, "width": 64, "height": 36, "status": "succeeded",
              "progress": 1.0, "gpu_seconds": 0.5, **fields}  # fmt: skip
    take = Take.objects.create(panel=panel, author=author, **fields)
    take.image.save(f"p/take-{panel.pk}.png", ContentFile(png(color)), save=True)
    boards.panel_update(panel=panel, selected_take=take.id)
    return take


def shots(storyboard, user, count: int, **fields) -> list[Panel]:
    return [
        boards.panel_create(storyboard=storyboard, user=user, prompt=f"shot {n + 1}",
                            action=f"Beat {n + 1}: the detective waits.", **fields)
        for n in range(count)
    ]  # fmt: skip


def export(kind, storyboard=None, project=None, **options):
    """What the export job hands over: a kind, a board, a project, options."""
    return types.SimpleNamespace(kind=kind, storyboard=storyboard, project=project, options=options)


def render(kind, storyboard, tmp_path, **options):
    progress = []
    files = render_export(export=export(kind, storyboard, storyboard.project, **options),
                          workdir=tmp_path, on_progress=progress.append)  # fmt: skip
    return files, progress


# --- reading the board ------------------------------------------------------------------------


def test_the_sheet_reads_a_board_in_two_queries(storyboard, dana, django_assert_num_queries):
    first, second, gone = shots(storyboard, dana, 3, shot_type="cu", dialogue="MARA: Now.")
    take = selected_take(second, dana, parent=None)
    boards.panel_delete(panel=gone, by=dana)
    with django_assert_num_queries(2):  # the board with its project; panels, takes, authors
        sheet = sheet_read(storyboard=storyboard)
    assert (sheet.project, sheet.storyboard) == ("Night Shift", "Opening")
    assert [p.shot_number for p in sheet.panels] == [1, 2]
    assert sheet.panels[0].take is None and sheet.panels[0].image_path is None
    assert sheet.panels[1].take_id == take.id
    assert str(sheet.panels[1].image_path) == take.image.path
    assert (sheet.panels[1].shot_label, sheet.panels[1].model) == ("Close-up", "tiny@r1")
    assert sheet.authors == ["dana"]


# --- PDF --------------------------------------------------------------------------------------


def pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", data))


def pdf_text(data: bytes) -> str:
    """Every content stream, inflated, with string escapes undone: enough to find words."""
    text = []
    for header, body in re.findall(rb"<<([^>]*?)>>\s*stream\r?\n(.*?)\r?\nendstream", data, re.S):
        if b"DCTDecode" in header:  # a frame
            continue
        if b"ASCII85Decode" in header:
            body = base64.a85decode(body.strip(), adobe=True)
        if b"FlateDecode" in header:
            body = zlib.decompress(body)
        text.append(body.decode("latin-1"))
    return re.sub(r"\\([()\\])", r"\1", "\n".join(text))


@pytest.mark.parametrize(("layout", "pages"), [(1, 7), (2, 4), (3, 3)])
def test_the_pdf_sets_one_two_or_three_panels_a_row(storyboard, dana, tmp_path, layout, pages):
    panels = shots(storyboard, dana, 13)
    selected_take(panels[0], dana)
    files, progress = render("pdf", storyboard, tmp_path, layout=layout)
    data = files["file"].read_bytes()
    assert data.startswith(b"%PDF") and pdf_pages(data) == pages  # two rows a page
    assert b"ASCII85Decode" not in data  # binary streams: ASCII85 in pure Python is slow
    assert f"page {pages} of {pages}" in pdf_text(data)
    assert progress[-1] == 1.0 and progress == sorted(progress)


def test_the_pdf_prints_each_panels_words_under_a_header(storyboard, dana, tmp_path):
    first, second = shots(storyboard, dana, 2)
    boards.panel_update(panel=first, shot_type="ecu", dialogue="WAITRESS: More coffee?",
                        notes="Match the neon.", duration_ms=2500)  # fmt: skip
    selected_take(second, dana)
    files, _ = render("pdf", storyboard, tmp_path, layout=2)
    text = pdf_text(files["file"].read_bytes())
    for words in ("Night Shift", "Opening", "page 1 of 1", "Extreme close-up", "2.5 s",
                  "WAITRESS: More coffee?", "Notes: Match the neon.", "Beat 2: the detective"):  # fmt: skip
        assert words in text
    assert re.search(r"\(1\s+Extreme close-up\)", text) and re.search(r"\(2\)", text)
    assert text.count("no frame yet") == 1  # the first panel has no take
    assert files["file"].read_bytes().count(b"/DCTDecode") == 1  # the frame went in as a JPEG


def test_the_pdf_cuts_long_words_to_their_box(storyboard, dana, tmp_path):
    (panel,) = shots(storyboard, dana, 1)
    boards.panel_update(panel=panel, action="Rain. " * 400, dialogue="MARA: (" + "x" * 900 + ")",
                        notes="雨 🌧 beyond Helvetica")  # fmt: skip
    files, _ = render("pdf", storyboard, tmp_path, layout=3)
    text = pdf_text(files["file"].read_bytes())
    assert pdf_pages(files["file"].read_bytes()) == 1
    assert text.count("Rain.") < 200 and "x" * 900 not in text
    assert "beyond Helvetica" in text  # characters it lacks print as boxes, the rest as words


def test_wrapped_lines_fit_their_width_and_end_in_an_ellipsis_when_cut():
    measure = len  # one unit a character
    lines = wrap_lines("a fairly long line\nthen averyveryverylongword", width=10,
                       measure=measure, max_lines=3)  # fmt: skip
    assert all(measure(line) <= 10 for line in lines) and len(lines) == 3
    assert lines[:2] == ["a fairly", "long line"] and lines[2].endswith("…")
    assert wrap_lines("short", width=10, measure=measure, max_lines=2) == ["short"]
    assert wrap_lines("tab\there\x00", width=10, measure=measure, max_lines=2) == ["tab here"]


def test_a_frame_is_copied_to_jpeg_once_a_run(storyboard, dana, tmp_path, monkeypatch):
    (panel,) = shots(storyboard, dana, 1)
    take = selected_take(panel, dana)
    copies = JpegCopies(tmp_path)
    first = copies.get(take.id, take.image.path)
    monkeypatch.setattr(copies, "_make", lambda *args: pytest.fail("converted twice"))
    assert copies.get(take.id, take.image.path) == first
    with Image.open(first) as copy:
        assert copy.format == "JPEG"


@pytest.mark.parametrize("layout", [0, 4, "2", True])
def test_the_pdf_refuses_a_layout_it_does_not_have(storyboard, tmp_path, layout):
    with pytest.raises(ValueError, match="1, 2 or 3"):
        render("pdf", storyboard, tmp_path, layout=layout)


def test_the_pdf_carries_content_credentials(storyboard, dana, tmp_path):
    (panel,) = shots(storyboard, dana, 1)
    selected_take(panel, dana)
    files, _ = render("pdf", storyboard, tmp_path, layout=1)
    from generation import provenance

    manifest = provenance.read_manifest(files["file"], mime="application/pdf")
    assert manifest["validation_state"] != "Invalid" and "tiny (r1)" in json.dumps(manifest)


# --- animatic ---------------------------------------------------------------------------------


def ffmpeg_info(path) -> str:
    run = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                         capture_output=True, text=True)  # fmt: skip
    return run.stderr  # ffmpeg describes its input on stderr, then says no output was given


def pixel_at(path, seconds: float) -> tuple[int, int, int]:
    """The colour near the top left of the frame shown at `seconds`."""
    run = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-ss", str(seconds),
                          "-i", str(path), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24",
                          "-"], capture_output=True, check=True)  # fmt: skip
    offset = (40 * 960 + 40) * 3
    return tuple(run.stdout[offset : offset + 3])


def test_the_animatic_holds_each_panel_for_its_duration(storyboard, dana, tmp_path):
    first, second, third = shots(storyboard, dana, 3)
    boards.panel_update(panel=first, duration_ms=1000, dialogue="MARA: You came back.")
    boards.panel_update(panel=second, duration_ms=1500)
    boards.panel_update(panel=third, duration_ms=700, dialogue="JOE: I never left.\n\nSo?")
    selected_take(first, dana)
    files, progress = render("animatic", storyboard, tmp_path)
    info = ffmpeg_info(files["file"])
    assert "yuv420p" in info and "h264" in info, info
    width, height = map(int, re.search(r"yuv420p[^,]*, (\d+)x(\d+)", info).groups())
    assert (width, height) == (960, 540)  # the board's 16:9, even sides
    h, m, s = re.search(r"Duration: (\d+):(\d+):([\d.]+)", info).groups()
    assert abs(int(h) * 3600 + int(m) * 60 + float(s) - 3.2) <= 1 / FPS + 0.011
    assert files["srt"].read_text() == (
        "1\n00:00:00,000 --> 00:00:01,000\nMARA: You came back.\n\n"
        "2\n00:00:02,500 --> 00:00:03,200\nJOE: I never left.\nSo?\n"
    )
    assert progress[-1] == pytest.approx(1.0) and progress == sorted(progress)
    red, card = pixel_at(files["file"], 0.9), pixel_at(files["file"], 1.1)
    assert red[0] > 150 > red[1] and max(card) < 60  # the first take, then the second's card
    assert not (tmp_path / "animatic-stills").exists()


def test_captions_are_burned_on_a_band_and_a_panel_without_a_frame_shows_a_card(storyboard, dana):
    first, second = shots(storyboard, dana, 2)
    boards.panel_update(panel=first, dialogue="MARA: Lights.")
    selected_take(first, dana, color=(255, 255, 255))
    sheet = sheet_read(storyboard=storyboard)
    captioned = still_compose(sheet.panels[0], (960, 540))
    assert captioned.getpixel((480, 20)) == (255, 255, 255)  # the frame, untouched
    assert max(captioned.getpixel((20, 530))) < 160  # the translucent band darkens it
    card = still_compose(sheet.panels[1], (960, 540))
    assert len(card.getcolors(maxcolors=1 << 20)) > 2  # a card with words, not a black frame


def test_the_animatic_refuses_an_empty_board(storyboard, tmp_path):
    with pytest.raises(ValueError, match="no panels"):
        render("animatic", storyboard, tmp_path)


def test_the_animatic_carries_content_credentials(storyboard, dana, tmp_path):
    (panel,) = shots(storyboard, dana, 1)
    selected_take(panel, dana)
    files, _ = render("animatic", storyboard, tmp_path)
    from generation import provenance

    manifest = provenance.read_manifest(files["file"], mime="video/mp4")
    assert manifest["validation_state"] != "Invalid"
    assert "tiny (r1)" in json.dumps(manifest) and "dana" in json.dumps(manifest)


# --- ZIP of takes -----------------------------------------------------------------------------


def test_the_zip_holds_every_selected_take_with_its_manifest(storyboard, dana, arti, tmp_path):
    first, second, third = shots(storyboard, dana, 3)
    boards.panel_update(panel=first, shot_type="cu")
    parent = selected_take(first, dana)
    child = selected_take(first, arti, color=(0, 0, 255), parent=parent, tool="variation",
                          prompt_parts=[{"label": "prompt", "text": "shot 1"}],
                          prompt_cut=["camera cut"])  # fmt: skip
    child.video.save("p/clip.mp4", ContentFile(b"\x00\x00\x00\x18ftypmp42 not really"), save=True)
    other = selected_take(third, dana)
    files, _ = render("zip", storyboard, tmp_path)
    with zipfile.ZipFile(files["file"]) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
        contents = {name: archive.read(name) for name in names}
    assert sorted(names) == sorted([f"001-cu-take-{child.id}.png", f"001-cu-take-{child.id}.mp4",
                                    f"003-take-{other.id}.png", "manifest.json"])  # fmt: skip
    assert (manifest["project"], manifest["storyboard"]) == ("Night Shift", "Opening")
    assert manifest["exported_at"] and manifest["skipped"] == [
        {"panel_id": second.id, "shot_number": 2, "reason": "no selected take"}]  # fmt: skip
    entry, last = manifest["takes"]
    assert entry["take_id"] == child.id and last["take_id"] == other.id
    assert entry["parameters"] == {name: getattr(child, name) for name in Take.PARAMETERS}
    assert (entry["parent_take"], entry["author"], entry["gpu_seconds"]) == (parent.id, "arti", 0.5)
    assert entry["prompt_parts"] == [{"label": "prompt", "text": "shot 1"}]
    assert entry["prompt_cut"] == ["camera cut"] and entry["panel_position"] == 0
    for take in manifest["takes"]:
        for file in take["files"]:
            assert hashlib.sha256(contents[file["name"]]).hexdigest() == file["sha256"]
    assert contents[f"001-cu-take-{child.id}.png"] == Path(child.image.path).read_bytes()


def test_the_zip_takes_only_the_chosen_panels(storyboard, dana, tmp_path):
    first, second = shots(storyboard, dana, 2)
    selected_take(first, dana)
    take = selected_take(second, dana)
    files, _ = render("zip", storyboard, tmp_path, panels=[second.id])
    with zipfile.ZipFile(files["file"]) as archive:
        assert archive.namelist() == [f"002-take-{take.id}.png", "manifest.json"]


def test_the_zip_refuses_panels_from_elsewhere(storyboard, project, dana, tmp_path):
    elsewhere = boards.storyboard_create(project=project, user=dana, title="Elsewhere")
    (stranger,) = shots(elsewhere, dana, 1)
    with pytest.raises(ValueError, match=f"panels {stranger.id} are not on this storyboard"):
        render("zip", storyboard, tmp_path, panels=[stranger.id])
    with pytest.raises(ValueError, match="list of panel ids"):
        render("zip", storyboard, tmp_path, panels="1,2")
    assert not (tmp_path / "takes.zip").exists()  # refused before anything is written


def test_no_name_in_the_zip_escapes_its_folder(storyboard, dana, tmp_path):
    (panel,) = shots(storyboard, dana, 1)
    selected_take(panel, dana)
    Panel.objects.filter(pk=panel.pk).update(shot_type="../../x")  # not a choice, but stored
    files, _ = render("zip", storyboard, tmp_path)
    with zipfile.ZipFile(files["file"]) as archive:
        for name in archive.namelist():
            assert re.fullmatch(r"[a-z0-9-]+\.(png|mp4|json)", name), name


# --- bundle -----------------------------------------------------------------------------------


def test_a_bundle_is_written_by_the_bundle_module(project, tmp_path, monkeypatch):
    calls = []

    def bundle_write(*, project, out_path, on_progress):
        calls.append((project, out_path))
        out_path.write_bytes(b"PK")
        on_progress(1.0)

    monkeypatch.setitem(sys.modules, "storyboards.bundle",
                        types.SimpleNamespace(bundle_write=bundle_write))  # fmt: skip
    progress = []
    files = render_export(export=export("bundle", project=project), workdir=tmp_path,
                          on_progress=progress.append)  # fmt: skip
    assert files == {"file": tmp_path / "bundle.zip"} and calls == [(project, files["file"])]
    assert progress == [1.0]
