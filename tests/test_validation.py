"""One validator: services decide what is valid, with typed keyword-only arguments; the API
schema and the pages read each limit from the one place it is defined."""

import pytest
from django.conf import settings

from generation import services as takes
from storyboards import services as boards


def test_a_misspelled_option_is_refused_not_silently_dropped(dana, panel):
    with pytest.raises(TypeError):
        takes.take_request(panel=panel, author=dana, sede=5)  # seed, misspelled
    with pytest.raises(TypeError):
        boards.panel_update(panel=panel, promt="a new prompt")
    with pytest.raises(TypeError):
        boards.panel_create(storyboard=panel.storyboard, user=dana, dialog="Run.")
    panel.refresh_from_db()
    assert panel.prompt != "a new prompt" and panel.takes.count() == 0


def test_the_api_schema_reads_the_services_limits(client):
    schema = client.get("/api/openapi.json").json()["components"]["schemas"]
    take_in, panel_in = schema["TakeIn"]["properties"], schema["PanelNew"]["properties"]

    def bounds(prop):
        variant = next(v for v in prop.get("anyOf", [prop]) if v.get("type") != "null")
        return variant.get("minimum"), variant.get("maximum"), variant.get("maxLength")

    assert bounds(take_in["guidance"])[:2] == takes.GUIDANCE_RANGE
    assert bounds(take_in["strength"])[:2] == takes.STRENGTH_RANGE
    assert bounds(take_in["fps"])[:2] == takes.FPS_RANGE
    assert bounds(take_in["seed"])[:2] == takes.SEED_RANGE
    assert bounds(take_in["num_frames"])[0] == takes.MIN_FRAMES
    assert bounds(panel_in["prompt"])[2] == settings.SLATE_MAX_PROMPT
    assert bounds(panel_in["action"])[2] == boards.TEXT_LIMIT


def test_the_inspector_reads_the_same_limits(client, dana, panel):
    client.force_login(dana)
    page = client.get(f"/panels/{panel.id}/inspector/").content.decode()
    low, high = takes.GUIDANCE_RANGE
    assert f'name="guidance" min="{low:g}" max="{high:g}"' in page.replace('.0"', '"')
    assert f'maxlength="{settings.SLATE_MAX_PROMPT}"' in page
    assert f'maxlength="{boards.TEXT_LIMIT}"' in page
