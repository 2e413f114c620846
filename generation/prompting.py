"""The prompt as sent: what a panel asks the model for, composed from everything known about it.

A panel's own prompt says what happens; the rest of the studio knows more. `compose` adds the
shot type and camera move (as words the model has seen in captions), the descriptions of the
characters and the location in the panel, and the style, in this order:

    shot, prompt, characters (as first named), location, camera, style

and keeps the result within the model's token limit (CLIP: 77 tokens, two of them the start
and end markers), cutting the least important part first: camera, location, characters (the
last named first), style, shot, and the panel's own prompt last, shortened by words from its end.
Every cut is said in words, on the part and in `cut`, so nobody wonders where a description went.

Tokens are counted with the model's own tokenizer when its files are on this machine (a builtin
model once a worker has built it, a directory, or a hub model in the local cache: never the
network), and estimated otherwise: words and punctuation marks x 1.3, CLIP's average on English
captions. No torch here: this runs in the web request.
"""

import math
import re
import threading
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from storyboards.models import CameraMove, Character, Location, Panel, ShotType

from .registry import ModelSpec

SPECIAL_TOKENS = 2  # CLIP wraps every prompt in <|startoftext|> ... <|endoftext|>
BUILTIN_PREFIX = "builtin:"  # as in generation/pipelines/builders.py, which imports torch
ESTIMATE_FACTOR = 1.3
SEPARATOR = ", "

SHOT_WORDS = {
    ShotType.EXTREME_WIDE: "extreme wide shot",
    ShotType.WIDE: "wide shot",
    ShotType.FULL: "full shot",
    ShotType.MEDIUM: "medium shot",
    ShotType.MEDIUM_CLOSE: "medium close-up",
    ShotType.CLOSE_UP: "close-up",
    ShotType.EXTREME_CLOSE_UP: "extreme close-up",
    ShotType.OVER_THE_SHOULDER: "over-the-shoulder shot",
    ShotType.POV: "point-of-view shot",
    ShotType.INSERT: "insert shot",
}
CAMERA_WORDS = {  # a static camera is the default picture: it adds nothing
    CameraMove.PAN: "panning shot",
    CameraMove.TILT: "tilting shot",
    CameraMove.DOLLY: "dolly shot",
    CameraMove.TRUCK: "tracking shot",
    CameraMove.CRANE: "crane shot",
    CameraMove.ZOOM: "zoom shot",
    CameraMove.HANDHELD: "handheld camera",
    CameraMove.STEADICAM: "steadicam shot",
}
# Least important first. Characters are cut last named first (see _cut_order).
CUT_ORDER = ("camera", "location", "character", "style", "shot", "prompt")
# Short fixed phrases are kept whole or cut whole: "extreme" alone says nothing.
WHOLE_ONLY = ("shot", "camera")


@dataclass
class Part:
    source: str  # prompt, shot, camera, character, location, style
    label: str  # "Shot type: Medium close-up", "MARA", "DINER", "Style: Graphite sketch"
    text: str  # what it adds
    tokens: int = 0
    cut: bool = False
    kept: str = ""  # what stays: all of `text`, a shorter start of it, or nothing
    why: str = ""  # the sentence saying what was cut (also in Composition.cut)


@dataclass
class Composition:
    text: str  # the prompt as sent
    negative: str  # the panel's negative prompt and the style's
    parts: list[dict] = field(default_factory=list)
    cut: list[str] = field(default_factory=list)
    tokens: int = 0  # of `text`, the start and end markers included
    limit: int = 77
    counted: str = "estimate"  # "tokenizer" or "estimate"
    seed: int | None = None
    seed_from: str = ""  # the character that pinned it
    reference: str = ""  # storage name of the reference image
    reference_from: str = ""  # whose reference it is

    def as_dict(self) -> dict:
        return asdict(self)


def compose(panel: Panel, *, model_spec: ModelSpec) -> Composition:
    """The prompt `model_spec` is sent for `panel`, with what each part contributed."""
    # 1. What the panel is about: who is in it, where it is, which style it wears.
    words = "\n".join((panel.prompt, panel.action, panel.dialogue))
    characters = characters_in(panel, words)
    location = location_of(panel, words)
    style = panel.style_preset if panel.style_preset_id else panel.storyboard.style_preset

    # 2. The parts, in the order the model reads them.
    parts = []
    if panel.shot_type in SHOT_WORDS:
        label = f"Shot type: {ShotType(panel.shot_type).label}"
        parts.append(Part("shot", label, SHOT_WORDS[panel.shot_type]))
    parts.append(Part("prompt", "Prompt", _clean(panel.prompt)))
    parts += [Part("character", c.name, _clean(c.description)) for c in characters]
    if location is not None:
        parts.append(Part("location", location.name, _clean(location.description)))
    if panel.camera_move in CAMERA_WORDS:
        label = f"Camera: {CameraMove(panel.camera_move).label}"
        parts.append(Part("camera", label, CAMERA_WORDS[panel.camera_move]))
    if style is not None:
        parts.append(Part("style", f"Style: {style.name}", _clean(style.prompt)))
    parts = [p for p in parts if p.text]

    # 3. Fit the model's limit.
    count, counted = token_counter(model_spec)
    for part in parts:
        part.tokens, part.kept = count(part.text), part.text
    cut = _fit(parts, count, model_spec.max_prompt_tokens)
    text = _join(parts)

    # 4. A pinned seed and a reference picture, from the first character named that has one
    # (then the location's picture): the face matters more than the room.
    seed_from = next((c for c in characters if c.seed is not None), None)
    pictured = next((x for x in [*characters, location] if x is not None and x.reference), None)
    negative = SEPARATOR.join(
        t for t in (_clean(panel.negative_prompt), _clean(style.negative_prompt if style else ""))
        if t
    )  # fmt: skip
    return Composition(
        text=text, negative=negative,
        parts=[asdict(p) for p in parts], cut=cut,
        tokens=count(text) + SPECIAL_TOKENS if text else 0, limit=model_spec.max_prompt_tokens,
        counted=counted, seed=seed_from.seed if seed_from else None,
        seed_from=seed_from.name if seed_from else "",
        reference=pictured.reference.name if pictured else "",
        reference_from=pictured.name if pictured else "",
    )  # fmt: skip


# --- who and where -----------------------------------------------------------------------------


def _named(name: str, words: str) -> re.Match | None:
    """`name` as a whole word (or words), any case: MARA in "Mara runs", not in "Samaras"."""
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", words, re.IGNORECASE) if name else None


def characters_in(panel: Panel, words: str) -> list[Character]:
    """The project's characters named in the panel's prompt, action or dialogue cues, in the
    order they are first named. A scene's cast counts only when the panel names them: a panel
    of the diner's sign has nobody in it, whoever is in the scene."""
    project_id = panel.storyboard.project_id
    found = []
    for character in Character.objects.filter(project_id=project_id):
        if match := _named(character.name, words):
            found.append((match.start(), character))
    return [character for _, character in sorted(found, key=lambda pair: pair[0])]


def location_of(panel: Panel, words: str) -> Location | None:
    """The panel's scene's location, else a project location the panel's text names."""
    project_id = panel.storyboard.project_id
    locations = Location.objects.filter(project_id=project_id)
    if panel.scene_id and panel.scene.location:
        if (found := locations.filter(name__iexact=panel.scene.location).first()) is not None:
            return found
    named = [(m.start(), loc) for loc in locations if (m := _named(loc.name, words))]
    return min(named, key=lambda pair: pair[0])[1] if named else None


# --- tokens ------------------------------------------------------------------------------------


def token_counter(spec: ModelSpec):
    """(count, how): count(text) gives the tokens of `text` without the start and end markers."""
    tokenizer = _tokenizer_for(spec)
    if tokenizer is None:
        return estimate_tokens, "estimate"
    return (lambda text: len(tokenizer.tokenize(text)) if text else 0), "tokenizer"


def estimate_tokens(text: str) -> int:
    """Words and punctuation marks x 1.3: CLIP splits long and rare words into pieces."""
    return math.ceil(len(re.findall(r"\w+|[^\w\s]", text)) * ESTIMATE_FACTOR)


def _tokenizer_for(spec: ModelSpec):
    source = spec.source
    if source.startswith(BUILTIN_PREFIX):
        where = Path(settings.SLATE_MODEL_DIR) / source.removeprefix(BUILTIN_PREFIX)
        if not (where / "tokenizer").is_dir():  # no worker has built it on this machine yet
            return None
        return _load_tokenizer(str(where), None)
    if Path(source).is_absolute() and not (Path(source) / "tokenizer").is_dir():
        return None
    return _load_tokenizer(source, spec.revision)


def _load_tokenizer(location: str, revision: str | None):
    # One thread at a time: transformers' lazy module is not safe to import from two threads at
    # once (the web server runs views in a pool), and a tokenizer need only be loaded once.
    with _loading:
        try:
            return _cached_tokenizer(location, revision)
        except (OSError, ValueError):  # not in the local cache: estimate (and try again later)
            return None


_loading = threading.Lock()


@lru_cache(maxsize=8)
def _cached_tokenizer(location: str, revision: str | None):
    from transformers import CLIPTokenizer  # a second's import, paid once per web process

    return CLIPTokenizer.from_pretrained(
        location, subfolder="tokenizer", revision=revision, local_files_only=True
    )


# --- fitting -----------------------------------------------------------------------------------


def _fit(parts: list[Part], count, limit: int) -> list[str]:
    usable = limit - SPECIAL_TOKENS

    def fits() -> bool:
        return count(_join(parts)) <= usable

    if fits():
        return []
    sentences = []
    for part in _cut_order(parts):
        part.kept, part.cut = "", True
        if fits():
            if part.source not in WHOLE_ONLY:
                part.kept = _longest_start(part, fits)
            part.why = _sentence(part, count, limit)
            sentences.append(part.why)
            break
        part.why = _sentence(part, count, limit)
        sentences.append(part.why)
    return sentences


def _cut_order(parts: list[Part]) -> list[Part]:
    rank = {source: i for i, source in enumerate(CUT_ORDER)}
    # Stable sort on the rank; characters of equal rank, last named first.
    numbered = list(enumerate(parts))
    numbered.sort(key=lambda pair: (rank[pair[1].source], -pair[0]))
    return [part for _, part in numbered]


def _longest_start(part: Part, fits) -> str:
    """The most words from the start of `part.text` that still fit; for the panel's own
    prompt, when not even its first word fits (a pasted run of letters), the most characters."""
    words = part.text.split()
    kept = _most(len(words) - 1, lambda n: _trim(" ".join(words[:n])), part, fits)
    if not kept and part.source == "prompt":
        kept = _most(len(words[0]) - 1, lambda n: words[0][:n], part, fits)
    return kept


def _most(high: int, start, part: Part, fits) -> str:
    """start(n) for the largest n <= high that fits, by binary search ("" when none does)."""
    low = 0
    while low < high:
        middle = (low + high + 1) // 2
        part.kept = start(middle)
        if fits():
            low = middle
        else:
            high = middle - 1
    part.kept = start(low)
    return part.kept


def _sentence(part: Part, count, limit: int) -> str:
    what = {
        "shot": "the shot type",
        "camera": "the camera move",
        "character": f"{part.label}'s description",
        "location": f"the location {part.label}'s description",
        "style": f"the style {part.label.removeprefix('Style: ')}",
        "prompt": "the panel's prompt",
    }[part.source]
    fit = f"to fit the model's {limit}-token limit."
    if part.kept:
        lost = part.tokens - count(part.kept)
        return f"Shortened {what} by {lost} token{'s' * (lost != 1)} {fit}"
    return f"Cut {what} ({part.tokens} token{'s' * (part.tokens != 1)}) {fit}"


def _join(parts: list[Part]) -> str:
    return SEPARATOR.join(part.kept for part in parts if part.kept)


def _clean(text: str) -> str:
    """One line, no trailing comma or full stop: parts are joined with commas."""
    return _trim(" ".join(text.split()))


def _trim(text: str) -> str:
    return text.rstrip(" ,;:.")
