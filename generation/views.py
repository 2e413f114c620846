"""Pages about generation. Thin: a selector checks access, the rest is read and shown."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from storyboards.models import Action
from storyboards.selectors import panel_get_for_member

from .prompting import compose
from .registry import default_model


@login_required
@require_GET
def panel_prompt(request, panel_id: int):
    """The inspector's "Prompt as sent": what a text-to-image take of this panel would be sent
    to the default model now, part by part, with what was cut to fit its token limit."""
    panel, _ = panel_get_for_member(user=request.user, panel_id=panel_id, action=Action.READ)
    spec = default_model()
    composition = compose(panel, model_spec=spec)
    context = {"sent": composition, "panel": panel, "model": spec, "live": True}
    return render(request, "storyboards/_prompt_sent.html", context)
