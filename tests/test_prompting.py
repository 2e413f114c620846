"""The prompt as sent (issue 10): composed from the panel's prompt, shot, camera, cast, location
and style, fitted to the model's token limit with every cut said, stored on the take; a pinned
seed and a reference picture carry a character from take to take."""

import dataclasses
import io

import numpy as np
import pytest
from django.core.files.base import ContentFile
from PIL import Image

from generation import prompting
from generation import services as takes
from generation.models import Take
from generation.prompting import compose
from generation.registry import model_get
from storyboards import services as boards
from storyboards.models import Character, Location, Panel, Scene, Script, StylePreset

LONG = "counter stools, chrome napkin holders, rain streaked windows, buzzing neon, pie case"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """The tiny model's tokenizer where a worker would have built it (no weights needed)."""
    from generation.pipelines.builders import tiny_tokenizer

    root = tmp_path_factory.mktemp("models")
    tiny_tokenizer().save_pretrained(root / "tiny-sd" / "tokenizer")
    return root


@pytest.fixture
def tokenizer(settings, tiny_model_dir):
    settings.SLATE_MODEL_DIR = tiny_model_dir


def roomy():
    """The tiny model with room for any prompt: to test what goes in, not what is cut."""
    return dataclasses.replace(model_get("tiny"), max_prompt_tokens=1000)


def edit(panel, **fields) -> Panel:
    Panel.objects.filter(pk=panel.pk).update(**fields)
    panel.refresh_from_db()
    return panel


@pytest.fixture
def cast(project):
    mara = Character.objects.create(
        project=project, name="MARA", description="woman in a red raincoat", seed=4242
    )
    joe = Character.objects.create(project=project, name="JOE", description="old cook, grey beard")
    Character.objects.create(project=project, name="AL", description="a man nobody names")
    diner = Location.objects.create(
        project=project, name="DINER", description="chrome counters, neon sign"
    )
    return {"mara": mara, "joe": joe, "diner": diner}


@pytest.fixture
def sketch(project):
    return StylePreset.objects.create(
        project=project, name="Graphite sketch", prompt="graphite storyboard sketch",
        negative_prompt="color",
    )  # fmt: skip


def png(color, size=(64, 64)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


# --- composition ------------------------------------------------------------------------------


def test_it_composes_shot_prompt_cast_location_camera_and_style_in_that_order(panel, cast, sketch):
    edit(panel, prompt="Joe pours coffee for Mara at the diner, always late",
         negative_prompt="blurry", shot_type="mcu", camera_move="dolly")  # fmt: skip
    panel.storyboard.style_preset = sketch
    panel.storyboard.save()
    panel.refresh_from_db()

    sent = compose(panel, model_spec=roomy())

    assert sent.text == (
        "medium close-up, Joe pours coffee for Mara at the diner, always late, "
        "old cook, grey beard, woman in a red raincoat, chrome counters, neon sign, dolly shot, "
        "graphite storyboard sketch"
    )
    assert sent.negative == "blurry, color"
    assert [(p["source"], p["label"]) for p in sent.parts] == [
        ("shot", "Shot type: Medium close-up"), ("prompt", "Prompt"), ("character", "JOE"),
        ("character", "MARA"), ("location", "DINER"), ("camera", "Camera: Dolly"),
        ("style", "Style: Graphite sketch"),
    ]  # fmt: skip
    assert sent.cut == [] and not any(p["cut"] for p in sent.parts)
    assert all(p["tokens"] > 0 and p["kept"] == p["text"] for p in sent.parts)
    assert (sent.seed, sent.seed_from) == (4242, "MARA")  # AL is in "always" only: not named


def test_a_static_camera_and_no_shot_type_add_nothing(panel):
    sent = compose(edit(panel, shot_type="", camera_move="static"), model_spec=roomy())
    assert sent.text == "a diner at night, rain"
    assert [p["source"] for p in sent.parts] == ["prompt"]


def test_dialogue_cues_bring_characters_in_and_the_panels_style_beats_the_boards(
    panel, cast, sketch, project
):
    ink = StylePreset.objects.create(project=project, name="Ink", prompt="ink wash")
    panel.storyboard.style_preset = sketch
    panel.storyboard.save()
    edit(panel, dialogue="MARA\nAnother cup?", style_preset=ink)

    sent = compose(panel, model_spec=roomy())

    assert sent.text == (
        "a diner at night, rain, woman in a red raincoat, chrome counters, neon sign, ink wash"
    )
    assert [p["label"] for p in sent.parts][1:] == ["MARA", "DINER", "Style: Ink"]


def test_the_scenes_location_counts_even_when_the_panel_does_not_name_it(
    panel, cast, project, dana
):
    script = Script.objects.create(project=project, title="Pilot", created_by=dana)
    scene = Scene.objects.create(
        script=script, position=0, heading="INT. DINER - NIGHT", location="Diner"
    )
    edit(panel, prompt="a cup of coffee steams", scene=scene)
    sent = compose(panel, model_spec=roomy())
    assert sent.text == "a cup of coffee steams, chrome counters, neon sign"
    edit(panel, scene=None)
    assert compose(panel, model_spec=roomy()).text == "a cup of coffee steams"


# --- the token limit --------------------------------------------------------------------------


def test_the_camera_goes_first_then_the_location_is_shortened_to_fit_the_limit(
    panel, cast, tokenizer
):
    Location.objects.filter(pk=cast["diner"].pk).update(description=LONG)
    edit(panel, prompt="Mara at the diner", camera_move="pan")
    count, how = prompting.token_counter(model_get("tiny"))
    assert how == "tokenizer" and count("Mara") == 4  # the tiny model's own: a token a letter

    sent = compose(panel, model_spec=model_get("tiny"))

    assert sent.tokens == count(sent.text) + 2 <= sent.limit == 77
    prompt, mara, diner, camera = sent.parts
    assert camera["cut"] and camera["kept"] == ""
    assert diner["cut"] and diner["kept"] and LONG.startswith(diner["kept"])
    assert not prompt["cut"] and not mara["cut"]
    assert sent.text == f"Mara at the diner, woman in a red raincoat, {diner['kept']}"
    assert count(f"{sent.text}, {LONG.split()[len(diner['kept'].split())]}") + 2 > 77  # no room
    lost = count(LONG) - count(diner["kept"])
    assert sent.cut == [
        f"Cut the camera move ({count('panning shot')} tokens) to fit the model's 77-token limit.",
        f"Shortened the location DINER's description by {lost} tokens to fit the model's "
        "77-token limit.",
    ]


def test_characters_are_cut_last_named_first(panel, cast, tokenizer, project):
    edit(panel, prompt="Mara argues with Joe")
    Character.objects.filter(pk=cast["joe"].pk).update(description=LONG)
    Location.objects.filter(pk=cast["diner"].pk).update(description="")

    sent = compose(panel, model_spec=model_get("tiny"))

    prompt, mara, joe = sent.parts
    assert not mara["cut"] and joe["cut"] and joe["kept"] != LONG
    assert sent.cut[0].startswith("Shortened JOE's description by")
    edit(panel, prompt="Joe argues with Mara")
    sent = compose(panel, model_spec=model_get("tiny"))
    prompt, joe, mara = sent.parts
    assert mara["cut"] and mara["kept"] == "" and joe["cut"] and joe["kept"]
    assert sent.cut[0] == "Cut MARA's description (19 tokens) to fit the model's 77-token limit."
    assert sent.cut[1].startswith("Shortened JOE's description by")


def test_the_panels_own_prompt_is_cut_last_by_words_from_its_end(panel, tokenizer, sketch):
    words = " ".join(f"word{i}" for i in range(30))
    edit(panel, prompt=words, shot_type="ws", style_preset=sketch)

    sent = compose(panel, model_spec=model_get("tiny"))

    assert [p["cut"] for p in sent.parts] == [True, True, True]  # shot, prompt, style
    assert [p["kept"] for p in sent.parts][::2] == ["", ""]
    assert words.startswith(sent.text) and sent.text.endswith(tuple(words.split()))
    count, _ = prompting.token_counter(model_get("tiny"))
    assert 70 <= count(sent.text) <= 75
    assert sent.cut[0].startswith("Cut the style Graphite sketch")
    assert sent.cut[1].startswith("Cut the shot type")
    assert sent.cut[2].startswith("Shortened the panel's prompt by")


def test_without_the_tokenizer_on_this_machine_tokens_are_estimated(panel, settings, tmp_path):
    settings.SLATE_MODEL_DIR = tmp_path  # no worker built the tiny model here
    sent = compose(panel, model_spec=model_get("tiny"))
    assert sent.counted == "estimate"
    assert sent.tokens == prompting.estimate_tokens("a diner at night, rain") + 2 == 2 + 8


# --- takes ------------------------------------------------------------------------------------


def test_the_take_stores_the_prompt_as_sent_and_its_parts(panel, dana, cast, sketch):
    edit(panel, prompt="Mara smiles", shot_type="cu", style_preset=sketch)
    take = takes.take_request(panel=panel, author=dana, model=None)
    take.refresh_from_db()
    sent = compose(panel, model_spec=model_get("tiny"))
    assert take.prompt == sent.text and take.prompt.startswith("close-up, Mara smiles")
    assert take.negative_prompt == "color"
    assert take.prompt_parts == sent.parts and take.prompt_cut == sent.cut
    assert [p["source"] for p in take.prompt_parts][:3] == ["shot", "prompt", "character"]


def test_changing_the_shot_type_changes_what_the_take_is_sent(panel, dana):
    first = takes.take_request(panel=panel, author=dana)
    boards.panel_update(panel=panel, shot_type="ews")
    second = takes.take_request(panel=panel, author=dana)
    assert first.prompt == "a diner at night, rain"
    assert second.prompt == "extreme wide shot, a diner at night, rain"


def test_generate_all_sends_the_composed_prompt(storyboard, panel, dana):
    edit(panel, shot_type="insert")
    (take,) = takes.storyboard_generate_all(storyboard=storyboard, author=dana)
    assert take.prompt == "insert shot, a diner at night, rain" and take.prompt_parts


def test_a_pinned_seed_is_used_only_when_no_seed_is_given(panel, dana, cast):
    edit(panel, prompt="Mara at the counter")
    pinned = takes.take_request(panel=panel, author=dana)
    chosen = takes.take_request(panel=panel, author=dana, seed=7)
    assert pinned.seed == 4242 and "Seed pinned by MARA." in pinned.note
    assert chosen.seed == 7 and "pinned" not in chosen.note
    edit(panel, prompt="an empty counter")
    assert "pinned" not in takes.take_request(panel=panel, author=dana).note


def test_a_reference_image_makes_text_to_image_start_from_it(panel, dana, cast):
    cast["mara"].reference.save("mara.png", ContentFile(png("red")))
    edit(panel, prompt="Mara at the counter")

    take = takes.take_request(panel=panel, author=dana)

    take.refresh_from_db()
    assert take.tool == "text2image" and take.reference.name == cast["mara"].reference.name
    assert take.strength == 0.75 and "Conditioned on MARA's reference image." in take.note
    assert takes.take_request(panel=panel, author=dana, strength=0.4).strength == 0.4
    plain = takes.take_request(panel=panel, author=dana, use_references=False)
    assert take.batch_key[-1] and not plain.batch_key[-1]  # never one pipeline call


def test_use_references_false_leaves_text_to_image_alone(panel, dana, cast):
    Location.objects.filter(pk=cast["diner"].pk).update(reference="references/diner.png")
    take = takes.take_request(panel=panel, author=dana, use_references=False)
    assert take.reference.name == "" and take.strength is None and "reference" not in take.note
    with_it = takes.take_request(panel=panel, author=dana)
    assert with_it.reference.name == "references/diner.png"  # the diner: named in the prompt


def test_a_model_that_cannot_start_from_a_picture_says_the_reference_was_not_used(
    panel, dana, cast, settings
):
    tiny = settings.SLATE_MODELS["tiny"]
    settings.SLATE_MODELS = {**settings.SLATE_MODELS, "tiny": {**tiny, "tools": ["text2image"]}}
    cast["mara"].reference.save("mara.png", ContentFile(png("red")))
    edit(panel, prompt="Mara")
    take = takes.take_request(panel=panel, author=dana)
    assert take.reference.name == "" and take.strength is None
    assert "MARA's reference image was not used: tiny cannot start from a picture." in take.note


def test_a_retry_keeps_the_prompt_as_sent_its_parts_and_reference(panel, dana, cast):
    cast["mara"].reference.save("mara.png", ContentFile(png("red")))
    edit(panel, prompt="Mara", shot_type="cu")
    take = takes.take_request(panel=panel, author=dana)
    takes.take_cancel(take=take, by=dana, membership=panel.storyboard.project.memberships.get(
        user=dana))  # fmt: skip
    edit(panel, prompt="somebody else entirely", shot_type="ws")
    retry = takes.take_retry(take=Take.objects.get(pk=take.pk), author=dana)
    retry.refresh_from_db()
    assert (retry.prompt, retry.prompt_parts) == (take.prompt, take.prompt_parts)
    assert retry.reference.name == take.reference.name != ""


def test_an_upscale_keeps_its_parents_prompt(panel, dana):
    parent = takes.take_request(panel=panel, author=dana, width=64, height=64)
    Take.objects.filter(pk=parent.pk).update(status="succeeded", image="takes/x.png")
    edit(panel, shot_type="cu")
    upscale = takes.take_request(panel=panel, author=dana, tool="upscale", parent_take=parent.id)
    assert upscale.prompt == parent.prompt == "a diner at night, rain"


# --- API and inspector ------------------------------------------------------------------------


def test_the_api_shows_the_prompt_as_sent_to_members_only(api, panel, vic, olga, cast):
    edit(panel, prompt="Mara", camera_move="handheld")
    body = api(vic).get(f"/panels/{panel.id}/prompt").json()
    assert body["text"] == "Mara, woman in a red raincoat, handheld camera"
    assert [p["source"] for p in body["parts"]] == ["prompt", "character", "camera"]
    assert (body["limit"], body["seed"], body["seed_from"]) == (77, 4242, "MARA")
    assert body["model"] == "tiny" and body["reference_from"] == "" and body["cut"] == []
    assert api(olga).get(f"/panels/{panel.id}/prompt").status_code == 404


def test_the_take_api_shows_the_parts_and_takes_use_references(api, panel, dana, cast):
    cast["mara"].reference.save("mara.png", ContentFile(png("red")))
    edit(panel, prompt="Mara")
    response = api(dana).post(f"/panels/{panel.id}/takes", {"use_references": False})
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["prompt_parts"][0]["source"] == "prompt" and body["reference_url"] is None
    referenced = api(dana).post(f"/panels/{panel.id}/takes", {}).json()
    assert referenced["reference_url"].endswith("mara.png")


def test_the_inspector_loads_the_prompt_as_sent_for_members_only(client, panel, vic, olga, cast):
    edit(panel, prompt="Mara", shot_type="pov")
    client.force_login(vic)
    html = client.get(f"/panels/{panel.id}/prompt/").content.decode()
    assert "Prompt as sent" in html and "point-of-view shot, Mara, woman in a red raincoat" in html
    assert "pinned by MARA" in html
    client.force_login(olga)
    assert client.get(f"/panels/{panel.id}/prompt/").status_code == 404


def test_the_inspector_and_its_takes_show_the_prompt_as_sent(client, panel, dana):
    take = takes.take_request(panel=panel, author=dana)
    client.force_login(dana)
    html = client.get(f"/panels/{panel.id}/inspector/").content.decode()
    assert f'hx-get="/panels/{panel.id}/prompt/"' in html
    assert html.count("Prompt as sent") == 1 and f"Take {take.id}" in html  # the take's
    assert "a diner at night, rain" in html


# --- the worker -------------------------------------------------------------------------------


@pytest.mark.worker
def test_a_referenced_take_renders_from_the_reference_on_the_worker(processes, panel, dana, cast):
    from tests.test_worker import finished, pixels

    processes.worker()
    cast["mara"].reference.save("mara.png", ContentFile(png((200, 30, 30), (96, 48))))
    edit(panel, prompt="Mara")
    options = {"seed": 3, "width": 64, "height": 64, "steps": 4}
    referenced = takes.take_request(panel=panel, author=dana, **options)
    plain = takes.take_request(panel=panel, author=dana, use_references=False, **options)
    done = finished([referenced.id, plain.id])
    assert all(t.status == "succeeded" for t in done.values()), processes.logs()
    image = Image.open(done[referenced.id].image.path)
    assert image.size == (64, 64) and image.text["reference"] == cast["mara"].reference.name
    assert np.abs(pixels(done[referenced.id]) - pixels(done[plain.id])).max() > 0
