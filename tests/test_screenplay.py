"""The screenplay package: Fountain and Final Draft in, one element model out, and what Slate
builds on it (scene breakdown, timing, suggested panels, merges). No database involved."""

import os
import re
from pathlib import Path

import pytest

from storyboards.screenplay import (
    KINDS,
    SECONDS_PER_LINE,
    ScriptError,
    beats,
    decode_text,
    element_lines,
    heading_parts,
    merge,
    parse_fdx,
    parse_fountain,
    read_upload,
    to_fdx,
    to_fountain,
)

FIXTURES = Path(__file__).parent / "fixtures" / "scripts"
# Counted by hand, and again below by a regular expression over the raw lines.
SCENES = {
    "the-last-birthday-card.fountain": 48,
    "big-fish-opening.fountain": 17,
    "brick-and-steel-crlf.fountain": 8,
    "night-shift.fountain": 6,
}
HEADING_LINE = re.compile(r"^(?:(?:INT\./EXT|INT/EXT|I/E|INT|EXT|EST)[. ]|\.[A-Za-z0-9])", re.I)


def fixture(name: str) -> str:
    return decode_text((FIXTURES / name).read_bytes())


def lines_of(text: str) -> list[str]:
    return re.split(r"\r\n|\r|\n", text.removeprefix("\ufeff"))


def sequence(screenplay) -> list[tuple]:
    return [(e.kind, e.text, e.scene_number, e.extension, e.dual) for e in screenplay.elements]


def only(screenplay, kind: str) -> list:
    return [e for e in screenplay.elements if e.kind == kind]


def squeeze(text: str) -> str:
    """Letters and digits only: what must survive from the source line into the element."""
    return re.sub(r"[\W_]+", "", text).casefold()


# -- the fixtures: real screenplays ---------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCENES))
def test_fixture_finds_every_scene(name):
    text = fixture(name)
    by_pattern = sum(1 for line in lines_of(text) if HEADING_LINE.match(line))
    screenplay = parse_fountain(text)
    assert by_pattern == SCENES[name]
    assert len(screenplay.scenes) == SCENES[name]
    assert [s.index for s in screenplay.scenes] == list(range(SCENES[name]))


@pytest.mark.parametrize("name", sorted(SCENES))
def test_fixture_line_ranges_hold_each_elements_text(name):
    text = fixture(name)
    source = lines_of(text)
    screenplay = parse_fountain(text)
    assert len(screenplay.elements) > 40
    for element in screenplay.elements:
        assert 1 <= element.first_line <= element.last_line <= len(source), element
        held = squeeze("\n".join(source[element.first_line - 1 : element.last_line]))
        assert squeeze(element.text) in held, element
        assert element.kind in KINDS


@pytest.mark.parametrize("name", sorted(SCENES))
def test_fixture_elements_come_in_source_order(name):
    screenplay = parse_fountain(fixture(name))
    starts = [e.first_line for e in screenplay.elements]
    assert starts == sorted(starts)
    heading_lines = [s.first_line for s in screenplay.scenes]
    assert heading_lines == [e.first_line for e in only(screenplay, "heading")]


def test_last_birthday_card_reads_as_written():
    screenplay = parse_fountain(fixture("the-last-birthday-card.fountain"))
    assert screenplay.title_page[0] == ("Title", "THE LAST BIRTHDAY CARD")
    assert dict(screenplay.title_page)["Contact"] == (
        "PO Box 10031\nSan Rafael CA 94912\nRegistered WGAw No. 701428"
    )
    first = screenplay.scenes[0]
    assert (first.first_line, first.heading, first.time_of_day) == (
        22, "INT. SAN FRANCISCO APARTMENT, DAY", "DAY",
    )  # fmt: skip
    forced = [s for s in screenplay.scenes if screenplay.elements[s.start].forced]
    assert len(forced) == 23
    assert forced[0].heading == "BACK IN THE APARTMENT" and forced[0].first_line == 34
    sections = only(screenplay, "section")
    assert (sections[0].text, sections[0].depth, sections[0].first_line) == ("ACT I", 1, 10)
    assert any(s.text == "Scott and Nak Meet on the Job" and s.depth == 2 for s in sections)
    intercut = next(e for e in only(screenplay, "transition") if e.first_line == 64)
    assert (intercut.text, intercut.forced) == ("INTERCUT WITH:", True)
    assert only(screenplay, "centered")[-1].text == "THE END"
    # Unforced "FADE OUT." is action in Fountain; "> FADE OUT." is a transition.
    fades = [e.kind for e in screenplay.elements if e.text == "FADE OUT."]
    assert fades == ["action", "action", "action", "transition", "transition"]
    woman = [e for e in screenplay.elements if e.character == "WOMAN" and e.first_line <= 183]
    assert [(e.kind, e.first_line, e.last_line) for e in woman] == [
        ("character", 180, 180), ("dialogue", 181, 181), ("parenthetical", 182, 182),
        ("dialogue", 183, 183),
    ]  # fmt: skip
    assert screenplay.scenes[20].characters == ["SCOTT", "NANCY", "BILLUPS"]


def test_big_fish_keeps_the_prologue_and_every_extension():
    screenplay = parse_fountain(fixture("big-fish-opening.fountain"))
    assert dict(screenplay.title_page)["Notes"] == (
        "FINAL PRODUCTION DRAFT\nincludes post-production dialogue\nand omitted scenes"
    )
    prologue = [e for e in screenplay.elements if e.kind != "title" and e.scene is None]
    assert [e.kind for e in prologue[:4]] == ["action", "page_break", "action", "action"]
    assert prologue[2].text == "FADE IN:" and prologue[2].markup == "**FADE IN:**"
    cues = {e.text: e.extension for e in only(screenplay, "character")}
    assert cues["EDWARD (V.O.)(CONT'D)"] == "V.O. CONT'D"
    assert cues["WILL (V.O.) (CONT'D)"] == "V.O. CONT'D"
    assert cues["EDWARD (O.S., PRELAP)"] == "O.S., PRELAP"
    assert cues["WILL (ON PHONE)"] == "ON PHONE"
    assert "EDWARD AND WILL" in {e.character for e in only(screenplay, "character")}
    title_card = only(screenplay, "centered")[0]
    assert (title_card.text, title_card.markup) == ("BIG FISH", "_BIG FISH_")
    assert [e.kind for e in screenplay.elements if e.text in ("TITLE OVER:", "ON WILL AND SANDRA")] == [
        "action", "action",
    ]  # fmt: skip
    back_yard = next(s for s in screenplay.scenes if "BACK YARD" in s.heading)
    assert (back_yard.location, back_yard.time_of_day) == ("BLOOM BACK YARD", "NIGHT")
    assert screenplay.scenes[0].heading == "INT. WILL'S BEDROOM - NIGHT (1973)"
    assert screenplay.scenes[0].first_line == 31


def test_brick_and_steel_as_an_editor_keeps_it():
    screenplay = parse_fountain(fixture("brick-and-steel-crlf.fountain"))
    body = [e for e in screenplay.elements if e.kind != "title"]
    # A capitals heading straight above its action is still a heading.
    assert [(e.kind, e.first_line) for e in body[:4]] == [
        ("heading", 13), ("action", 14), ("note", 15), ("action", 18),
    ]  # fmt: skip
    assert body[2].text == "the day was supposed to be gorgeous right?"
    dual = [e for e in body if e.dual]
    assert [(e.kind, e.text) for e in dual] == [
        ("character", "BRICK"),
        ("dialogue", "Screw retirement."),
    ]
    assert [(e.text, e.forced) for e in only(screenplay, "transition")][:3] == [
        ("TEST", True), ("SMASH CUT TO:", False), ("CUT TO:", False),
    ]  # fmt: skip
    jack = [e for e in body if e.character == "JACK"]
    assert [e.text for e in jack] == [
        "JACK", "(in Vietnamese, subtitled)", "Did you know Brick and Steel are retired?",
    ]  # fmt: skip
    opening = next(e for e in body if e.text == "OPENING TITLES")
    after = body[body.index(opening) + 1]
    assert (opening.kind, after.kind, after.text) == (
        "heading",
        "centered",
        "BRICK BRADDOCK\n& DICK STEEL IN",
    )
    forced_cue = next(e for e in body if e.text == "character")
    assert (forced_cue.kind, forced_cue.forced, forced_cue.character) == (
        "character",
        True,
        "CHARACTER",
    )
    assert next(e for e in body if e.text.startswith("tegme")).kind == "action"
    cheese = next(e for e in body if e.character == "I LIKE CHEESE")
    assert (cheese.kind, cheese.extension) == ("character", "cont.")


def test_line_endings_and_bom_change_nothing():
    lf = fixture("brick-and-steel-crlf.fountain").replace("\r\n", "\n")
    expected = [(e.kind, e.text, e.first_line, e.last_line) for e in parse_fountain(lf).elements]
    lines = lf.split("\n")
    variants = {
        "crlf": "\r\n".join(lines),
        "cr": "\r".join(lines),
        "mixed": "".join(line + ("\r\n", "\n")[i % 2] for i, line in enumerate(lines)),
        "bom": "\ufeff" + lf,
        "bom-crlf-bytes": decode_text(b"\xef\xbb\xbf" + "\r\n".join(lines).encode()),
    }
    for name, text in variants.items():
        got = [(e.kind, e.text, e.first_line, e.last_line) for e in parse_fountain(text).elements]
        assert got == expected, name


# -- Fountain, element by element -------------------------------------------------------------


def test_title_page_keys_values_and_continuations():
    screenplay = parse_fountain(
        "Title:\n    _**BRICK & STEEL**_\n\tFULL RETIRED\nCredit: Written by\nAuthor: Stu\n"
        "Contact:\n   1588 Mission Dr.\n\nINT. GARAGE - DAY\n\nThey leave.\n"
    )
    assert screenplay.title_page == [
        ("Title", "BRICK & STEEL\nFULL RETIRED"), ("Credit", "Written by"), ("Author", "Stu"),
        ("Contact", "1588 Mission Dr."),
    ]  # fmt: skip
    titles = only(screenplay, "title")
    assert [(e.key, e.first_line, e.last_line) for e in titles] == [
        ("Title", 1, 3), ("Credit", 4, 4), ("Author", 5, 5), ("Contact", 6, 7),
    ]  # fmt: skip
    assert titles[0].markup == "_**BRICK & STEEL**_\nFULL RETIRED"
    assert all(e.scene is None for e in titles)
    assert screenplay.elements[len(titles)].kind == "heading"
    assert screenplay.title == "BRICK & STEEL FULL RETIRED"


def test_a_colon_in_the_first_action_line_is_not_a_title_page():
    screenplay = parse_fountain("As she runs: a truck tips over.\n\nINT. GARAGE - DAY\n")
    assert screenplay.title_page == []
    assert screenplay.elements[0].kind == "action"


@pytest.mark.parametrize(
    "line",
    ["INT. DINER - NIGHT", "EXT. DINER - NIGHT", "EST. CITY - DAWN", "INT./EXT. CAR - DAY",
     "INT/EXT CAR - DAY", "I/E CAR - DAY", "int. diner - night", "ext diner", "INT DINER"],
)  # fmt: skip
def test_scene_heading_prefixes(line):
    screenplay = parse_fountain(f"Action first.\n\n{line}\n\nAction after.\n")
    heading = screenplay.elements[1]
    assert (heading.kind, heading.text, heading.first_line, heading.forced) == (
        "heading",
        line,
        3,
        False,
    )


@pytest.mark.parametrize(
    "text, kinds",
    [
        ("He walks.\nINT. DINER - NIGHT\n\nMore.\n", ["action", "action"]),  # no blank before
        ("Interior.\n\nint. design was his thing.\nHe left.\n", ["action", "action"]),  # not caps
        ("INTERCUT WITH:\n\nMore.\n", ["action", "action"]),  # INT must end at "." or space
        ("Start.\n\nINT. DINER - NIGHT\nHe sits.\n", ["action", "heading", "action"]),  # caps
    ],
)
def test_scene_heading_needs_a_blank_line_before(text, kinds):
    assert [e.kind for e in parse_fountain(text).elements] == kinds


def test_forced_heading_and_scene_numbers():
    screenplay = parse_fountain(
        ".FLASHBACK\n\nShe smiles.\n\n..and then.\n\nINT. HOUSE - DAY #1A#\n\nx\n\n"
        "EXT. YARD - NIGHT #I-1-A#\n\ny\n"
    )
    flashback, _, trailing, house, _, yard, _ = screenplay.elements
    assert (flashback.kind, flashback.text, flashback.forced) == ("heading", "FLASHBACK", True)
    assert (trailing.kind, trailing.text) == ("action", "..and then.")
    assert (house.text, house.scene_number) == ("INT. HOUSE - DAY", "1A")
    assert (yard.text, yard.scene_number) == ("EXT. YARD - NIGHT", "I-1-A")
    assert [s.number for s in screenplay.scenes] == ["1", "1A", "I-1-A"]


def test_action_keeps_line_breaks_indentation_and_forcing():
    screenplay = parse_fountain(
        "She waits.  \nThe clock ticks.\n\n\tTabbed in.\n    Four spaces.\n\n!SCOTT\nturns.\n"
    )
    waits, tabbed, forced = screenplay.elements
    assert (waits.text, waits.first_line, waits.last_line) == ("She waits.\nThe clock ticks.", 1, 2)
    assert tabbed.text == "    Tabbed in.\n    Four spaces."
    assert (forced.kind, forced.text, forced.forced, forced.first_line, forced.last_line) == (
        "action", "SCOTT\nturns.", True, 7, 8,
    )  # fmt: skip


def test_character_cues():
    screenplay = parse_fountain(
        "MARA (V.O.)\nHello.\n\nMARA (v.o.) (CONT'D)\nAgain.\n\nR2D2\nBeep.\n\n@McCLANE\nYippee.\n\n"
        "1977\nA year.\n\nJOHN\n\nNobody speaks.\n"
    )
    cues = only(screenplay, "character")
    assert [(c.text, c.character, c.extension, c.forced) for c in cues] == [
        ("MARA (V.O.)", "MARA", "V.O.", False),
        ("MARA (v.o.) (CONT'D)", "MARA", "v.o. CONT'D", False),
        ("R2D2", "R2D2", "", False),
        ("McCLANE", "MCCLANE", "", True),
    ]
    assert [e.kind for e in screenplay.elements[-3:]] == [
        "action",
        "action",
        "action",
    ]  # digits, no dialogue
    assert only(screenplay, "dialogue")[3].character == "MCCLANE"


def test_dual_dialogue_marks_the_second_speaker():
    screenplay = parse_fountain("JACK\nI love you!\n\nJILL ^\n(shouting)\nI hate you!\n")
    assert [(e.kind, e.character, e.dual) for e in screenplay.elements] == [
        ("character", "JACK", False), ("dialogue", "JACK", False),
        ("character", "JILL", True), ("parenthetical", "JILL", True), ("dialogue", "JILL", True),
    ]  # fmt: skip
    assert screenplay.elements[2].text == "JILL"


def test_parentheticals_single_inside_and_across_lines():
    screenplay = parse_fountain(
        "MARA\n(quietly)\nWe should go.\n(beat)\nNow.\n(a long look,\nthen softer)\nPlease.\n"
    )
    assert [(e.kind, e.text, e.first_line, e.last_line) for e in screenplay.elements[1:]] == [
        ("parenthetical", "(quietly)", 2, 2),
        ("dialogue", "We should go.", 3, 3),
        ("parenthetical", "(beat)", 4, 4),
        ("dialogue", "Now.", 5, 5),
        ("parenthetical", "(a long look,\nthen softer)", 6, 7),
        ("dialogue", "Please.", 8, 8),
    ]


def test_dialogue_lines_join_and_two_spaces_keep_a_blank_line():
    screenplay = parse_fountain("DEALER\nTen.\nTwenty.\n  \nThirty.\n\nHe folds.\n")
    dialogue = screenplay.elements[1]
    assert (dialogue.text, dialogue.first_line, dialogue.last_line) == (
        "Ten.\nTwenty.\n\nThirty.",
        2,
        5,
    )
    assert screenplay.elements[2].kind == "action"


def test_transitions():
    screenplay = parse_fountain(
        "A.\n\nCUT TO:\n\nB.\n\n> Burn to White.\n\nC.\n\n>centered<\n\nsmash cut to:\n\nFADE OUT.\n"
    )
    assert [(e.kind, e.text, e.forced) for e in screenplay.elements] == [
        ("action", "A.", False),
        ("transition", "CUT TO:", False),
        ("action", "B.", False),
        ("transition", "Burn to White.", True),
        ("action", "C.", False),
        ("centered", "centered", False),
        ("action", "smash cut to:", False),
        ("action", "FADE OUT.", False),
    ]


def test_centered_sections_synopses_page_breaks_and_lyrics():
    screenplay = parse_fountain(
        "> THE END <\n>Fin<\n\n# Act One\n\n### Sequence ###\n\n= Mara leaves.\n\n===\n\n"
        "=====\n\n~Willy Wonka! Willy Wonka!\n~The amazing chocolatier!\n"
    )
    assert [(e.kind, e.text, e.depth, e.first_line, e.last_line) for e in screenplay.elements] == [
        ("centered", "THE END\nFin", 0, 1, 2),
        ("section", "Act One", 1, 4, 4),
        ("section", "Sequence", 3, 6, 6),
        ("synopsis", "Mara leaves.", 0, 8, 8),
        ("page_break", "", 0, 10, 10),
        ("page_break", "", 0, 12, 12),
        ("lyric", "Willy Wonka! Willy Wonka!\nThe amazing chocolatier!", 0, 14, 15),
    ]


def test_notes_standalone_across_lines_inline_and_glued_to_headings():
    screenplay = parse_fountain(
        "INT. DINER - NIGHT[[rain all day]]\n\n[[A note that\nruns on]]\n\n"
        "Mara waits. [[check the clock]]\n\nShe sits.\n[[panel]]\nShe stands.\n"
    )
    heading, note, waits, sits, panel, stands = screenplay.elements
    assert (heading.kind, heading.text, heading.notes) == (
        "heading",
        "INT. DINER - NIGHT",
        ["rain all day"],
    )
    assert (note.kind, note.text, note.first_line, note.last_line) == (
        "note",
        "A note that\nruns on",
        3,
        4,
    )
    assert (waits.text, waits.notes) == ("Mara waits.", ["check the clock"])
    # A note on its own line cuts the paragraph: the writer's panel break.
    assert [(e.kind, e.text, e.first_line) for e in (sits, panel, stands)] == [
        ("action", "She sits.", 8), ("note", "panel", 9), ("action", "She stands.", 10),
    ]  # fmt: skip


def test_a_note_across_a_blank_line_needs_two_spaces():
    joined = parse_fountain("[[Note\n  \nstill the note]]\n")
    assert [(e.kind, e.text) for e in joined.elements] == [("note", "Note\n\nstill the note")]
    broken = parse_fountain("[[Not a note\n\nbecause of the blank]]\n")
    assert [e.kind for e in broken.elements] == ["action", "action"]


def test_boneyard_is_cut_and_later_lines_keep_their_numbers():
    screenplay = parse_fountain(
        "INT. DINER - NIGHT\n\n/* cut scene\n\nEXT. ROAD - DAY\n\nshe drives */\nMara waits /* a while */ alone.\n"
        "\nJOHN\nHi. /*\n\nlonger\n*/\n\nThe end.\n"
    )
    assert [(e.kind, e.text, e.first_line) for e in screenplay.elements] == [
        ("heading", "INT. DINER - NIGHT", 1),
        ("action", "Mara waits  alone.", 8),
        ("character", "JOHN", 10),
        ("dialogue", "Hi.", 11),
        ("action", "The end.", 16),
    ]
    assert len(screenplay.scenes) == 1
    unclosed = parse_fountain("Mara /* never closed\n\nJohn.\n")
    assert [e.text for e in unclosed.elements] == ["Mara /* never closed", "John."]


def test_emphasis_and_escapes():
    screenplay = parse_fountain(
        "*italic* **bold** ***both*** _under_ and \\*not\\* \\_this\\_ or 2 * 3 * 4.\n"
    )
    action = screenplay.elements[0]
    assert action.text == "italic bold both under and *not* _this_ or 2 * 3 * 4."
    assert (
        action.markup
        == "*italic* **bold** ***both*** _under_ and \\*not\\* \\_this\\_ or 2 * 3 * 4."
    )


def test_whitespace_only_lines_are_blank_and_trailing_whitespace_goes():
    screenplay = parse_fountain("INT. DINER - NIGHT   \n \t \nMARA   \n   Hello.  \n\n")
    assert [(e.kind, e.text) for e in screenplay.elements] == [
        ("heading", "INT. DINER - NIGHT"), ("character", "MARA"), ("dialogue", "Hello."),
    ]  # fmt: skip


def test_empty_and_blank_scripts_have_nothing():
    for text in ("", "\n\n", "\ufeff", "   \r\n"):
        screenplay = parse_fountain(text)
        assert (screenplay.elements, screenplay.scenes, screenplay.title_page) == ([], [], [])


# -- ids ----------------------------------------------------------------------------------


SCENE = (
    "INT. DINER - NIGHT\n\nMara waits.\n\nMARA\nHello?\n\nCUT TO:\n\nEXT. ROAD - DAY\n\nCUT TO:\n"
)


def test_ids_hash_the_text_and_count_repeats():
    screenplay = parse_fountain(SCENE)
    ids = [e.id for e in screenplay.elements]
    assert all(re.fullmatch(r"[a-z_]+-[0-9a-f]{8}-\d+", i) for i in ids)
    assert len(set(ids)) == len(ids)
    cuts = only(screenplay, "transition")
    assert [c.id.rsplit("-", 1)[1] for c in cuts] == ["1", "2"]
    assert cuts[0].id.rsplit("-", 1)[0] == cuts[1].id.rsplit("-", 1)[0]
    assert cuts[0].hash == cuts[1].hash and len(cuts[0].hash) == 12
    # Whitespace and case do not make a new element.
    same = parse_fountain("mara   WAITS.\n").elements[0]
    assert same.id == screenplay.elements[1].id and same.hash != screenplay.elements[1].hash


def test_ids_survive_lines_added_above():
    before = parse_fountain(SCENE)
    after = parse_fountain("# Act One\n\n= A synopsis.\n\n" + SCENE)
    moved = after.elements[2:]
    assert [e.id for e in moved] == [e.id for e in before.elements]
    assert [e.first_line for e in moved] == [e.first_line + 4 for e in before.elements]
    assert after.scenes[0].id == before.scenes[0].id


def test_editing_one_element_changes_only_its_id():
    before = parse_fountain(SCENE)
    after = parse_fountain(SCENE.replace("Mara waits.", "Mara waits, and waits."))
    changed = [
        (a.id, b.id) for a, b in zip(before.elements, after.elements, strict=True) if a.id != b.id
    ]
    assert len(changed) == 1
    assert changed[0][0].startswith("action-") and changed[0][1].startswith("action-")
    assert after.by_id()[changed[0][1]].text == "Mara waits, and waits."


# -- breakdown and timing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "heading, parts",
    [
        ("INT. DINER - NIGHT", ("INT", "DINER", "NIGHT")),
        ("EXT. HOUSE - KITCHEN - NIGHT", ("EXT", "HOUSE - KITCHEN", "NIGHT")),
        ("INT./EXT. CAR - MOVING - DAY", ("INT/EXT", "CAR - MOVING", "DAY")),
        ("INT/EXT CAR - DAY", ("INT/EXT", "CAR", "DAY")),
        ("I/E. CAR - DAY", ("INT/EXT", "CAR", "DAY")),
        ("I/E CAR", ("INT/EXT", "CAR", "")),
        ("EST. CITY SKYLINE - DAWN", ("EST", "CITY SKYLINE", "DAWN")),
        ("int. diner - moments later", ("INT", "DINER", "MOMENTS LATER")),
        ("INT. DINER - CONTINUOUS", ("INT", "DINER", "CONTINUOUS")),
        ("INT. DINER -- LATER", ("INT", "DINER", "LATER")),
        ("INT. SAN FRANCISCO APARTMENT, DAY", ("INT", "SAN FRANCISCO APARTMENT", "DAY")),
        ("INT SCOTT'S APARTMENT, SAME TIME", ("INT", "SCOTT'S APARTMENT", "SAME TIME")),
        ("INT. SUTTER HOUSE, KITCHEN", ("INT", "SUTTER HOUSE, KITCHEN", "")),
        ("INT.  WILL'S BEDROOM - NIGHT (1973)", ("INT", "WILL'S BEDROOM", "NIGHT")),
        ("EXT. BACK YARD - NIGHT [CONTINUOUS]", ("EXT", "BACK YARD", "NIGHT")),
        ("INT. DAY CARE - CENTER", ("INT", "DAY CARE - CENTER", "")),
        ("FLASHBACK", ("", "FLASHBACK", "")),
        ("EXTREME CLOSE ON THE GUN", ("", "EXTREME CLOSE ON THE GUN", "")),
    ],
)
def test_heading_parts(heading, parts):
    assert heading_parts(heading) == parts


def test_scene_breakdown_fields():
    screenplay = parse_fountain(
        "FADE IN:\n\nINT. DINER - NIGHT #4#\n\nMARA wipes the counter. JOHN enters. A DOG barks.\n\n"
        "JOHN\nCoffee.\n\nMARA\nNo.\n\n.FLASHBACK\n\nMara, young.\n"
    )
    diner, flashback = screenplay.scenes
    assert (diner.index, diner.number, diner.heading, diner.int_ext) == (
        0,
        "4",
        "INT. DINER - NIGHT",
        "INT",
    )
    assert (diner.first_line, diner.last_line, diner.start, diner.end) == (3, 11, 1, 7)
    assert diner.id == screenplay.elements[1].id
    # MARA is named in the action before she speaks; DOG never speaks, so is not a character.
    assert diner.characters == ["MARA", "JOHN"]
    assert (flashback.number, flashback.int_ext, flashback.location) == ("2", "", "FLASHBACK")
    assert screenplay.elements[0].scene is None
    assert [e.scene for e in screenplay.elements[1:]] == [0] * 6 + [1, 1]
    assert screenplay.speakers == ["JOHN", "MARA"]


def test_estimated_seconds_follow_the_page_rule():
    long_action = " ".join(["word"] * 20)  # 99 characters: wraps to 2 lines at 61
    long_line = " ".join(["talk"] * 10)  # 49 characters: 2 lines at 35
    screenplay = parse_fountain(
        f"INT. DINER - NIGHT\n\n{long_action}\n\nMARA\n(a very long parenthetical)\n{long_line}\n"
        "Short.\n\nCUT TO:\n\n[[a note]]\n\n= A synopsis.\n"
    )
    # heading 1+1, action 2+1, cue 1+1, parenthetical 2 (27 chars at 26), dialogue 2+1, transition 1+1
    expected_lines = 2 + 3 + 2 + 2 + 3 + 2
    scene = screenplay.scenes[0]
    assert scene.estimated_seconds == pytest.approx(expected_lines * 60 / 55)
    assert SECONDS_PER_LINE == pytest.approx(60 / 55)
    assert [element_lines(e) for e in screenplay.elements] == [2, 3, 2, 2, 3, 2, 0, 0]
    assert screenplay.total_seconds == pytest.approx(scene.estimated_seconds)


def test_a_page_is_about_a_minute():
    screenplay = parse_fountain(fixture("the-last-birthday-card.fountain"))
    # The published PDF of this sample runs to 20 pages with its title page.
    assert 17 * 60 < screenplay.total_seconds < 21 * 60
    assert sum(s.estimated_seconds for s in screenplay.scenes) == pytest.approx(
        screenplay.total_seconds - sum(
            element_lines(e) for e in screenplay.elements if e.scene is None
        ) * SECONDS_PER_LINE
    )  # fmt: skip


def test_scene_text_is_the_printed_scene():
    screenplay = parse_fountain(
        "INT. DINER - NIGHT\n\n[[a note]]\n\nMara waits.\n\nMARA\n(quietly)\nHello.\n\nCUT TO:\n"
    )
    assert screenplay.scene_text(0) == (
        "INT. DINER - NIGHT\n\nMara waits.\n\nMARA\n(quietly)\nHello.\n\nCUT TO:"
    )


# -- writing Fountain back ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCENES))
def test_to_fountain_reads_back_the_same(name):
    screenplay = parse_fountain(fixture(name))
    again = parse_fountain(to_fountain(screenplay))
    assert sequence(again) == sequence(screenplay)
    assert again.title_page == screenplay.title_page
    assert [e.notes for e in again.elements] == [e.notes for e in screenplay.elements]


def test_to_fountain_forces_what_would_be_misread():
    screenplay = parse_fountain(
        ".MONTAGE\n\n!INT. NOT A HEADING\n\n!MARA\nwalks.\n\n@Mara\nHi.\n\n> FADE OUT.\n\n!# not a section\n\n"
        "!Title: not the title page\n"
    )
    written = to_fountain(screenplay)
    assert written.split("\n\n") == [
        ".MONTAGE", "!INT. NOT A HEADING", "!MARA\nwalks.", "@Mara\nHi.", "> FADE OUT.",
        "!# not a section", "!Title: not the title page\n",
    ]  # fmt: skip
    assert sequence(parse_fountain(written)) == sequence(screenplay)


# -- Final Draft ----------------------------------------------------------------------------


def fdx(body: str, title_page: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n'
        f'<FinalDraft DocumentType="Script" Version="5"><Content>{body}</Content>{title_page}</FinalDraft>'
    ).encode()


def test_fdx_upper_cases_headings_cues_and_allcaps_runs():
    screenplay = parse_fdx((FIXTURES / "sutter-house.fdx").read_bytes())
    heading = only(screenplay, "heading")[0]
    assert (heading.text, heading.scene_number, heading.forced) == (
        "INT. SUTTER HOUSE - DAY",
        "12A",
        False,
    )
    assert [s.heading for s in screenplay.scenes] == [
        "INT. SUTTER HOUSE - DAY", "EXT. SUTTER HOUSE - PORCH - CONTINUOUS",
    ]  # fmt: skip
    assert [s.number for s in screenplay.scenes] == ["12A", "13"]
    cues = only(screenplay, "character")
    assert [(c.text, c.character, c.extension, c.dual) for c in cues] == [
        ("ELLIE", "ELLIE", "", False), ("TOM (O.S.)", "TOM", "O.S.", False),
        ("ELLIE", "ELLIE", "", False), ("TOM (O.S.)", "TOM", "O.S.", True),
    ]  # fmt: skip
    assert only(screenplay, "transition")[0].text == "CUT TO:"


def test_fdx_runs_join_with_their_styles():
    screenplay = parse_fdx((FIXTURES / "sutter-house.fdx").read_bytes())
    action = only(screenplay, "action")[0]
    assert (
        action.text
        == "Dust hangs in the light. ELLIE SUTTER (30s) pries open a crate marked FRAGILE."
    )
    assert action.markup == (
        "Dust hangs in the light. **ELLIE SUTTER** (30s) pries open a crate marked *_FRAGILE_*."
    )


def test_fdx_paragraph_types():
    screenplay = parse_fdx((FIXTURES / "sutter-house.fdx").read_bytes())
    body = [(e.kind, e.text) for e in screenplay.elements if e.kind != "title"]
    assert body == [
        ("section", "Act One"),
        ("heading", "INT. SUTTER HOUSE - DAY"),
        (
            "action",
            "Dust hangs in the light. ELLIE SUTTER (30s) pries open a crate marked FRAGILE.",
        ),
        ("character", "ELLIE"),
        ("parenthetical", "(to herself)"),
        (
            "dialogue",
            "Somebody packed this in a hurry.\nOr in the dark.",
        ),  # two paragraphs, one speech
        ("character", "TOM (O.S.)"),
        ("dialogue", "Ellie? You up there?"),
        ("action", "She freezes. Listens."),
        ("action", "CLOSE ON THE CRATE"),  # Shot
        ("action", "A child's shoe, wrapped in newspaper from 1987."),
        ("character", "ELLIE"),
        ("dialogue", "Coming!"),
        ("character", "TOM (O.S.)"),
        ("parenthetical", "(louder)"),
        ("dialogue", "Ellie!"),
        ("transition", "CUT TO:"),
        ("heading", "EXT. SUTTER HOUSE - PORCH - CONTINUOUS"),
        ("action", "Tom waits with two coffees."),  # General
        ("lyric", "Row, row, row your boat"),
        ("centered", "THE END"),
        ("transition", "FADE OUT."),
    ]
    assert only(screenplay, "action")[1].notes == ["Hold on her face here."]
    assert [e.dual for e in screenplay.elements if e.character == "TOM"] == [
        False,
        False,
        True,
        True,
        True,
    ]


def test_fdx_title_page():
    screenplay = parse_fdx((FIXTURES / "sutter-house.fdx").read_bytes())
    assert screenplay.title_page == [
        ("Title", "THE SUTTER HOUSE"), ("Credit", "Written by"), ("Author", "Rosa Lindqvist"),
        ("Draft date", "Revised draft, 14 May 2024"), ("Contact", "rosa@example.com"),
    ]  # fmt: skip
    assert screenplay.title == "THE SUTTER HOUSE"


def test_fdx_line_ranges_are_those_of_the_fountain_it_becomes():
    screenplay = parse_fdx((FIXTURES / "sutter-house.fdx").read_bytes())
    again = parse_fountain(to_fountain(screenplay))
    assert [(e.kind, e.text) for e in again.elements] == [
        (e.kind, e.text) for e in screenplay.elements
    ]
    assert [(e.first_line, e.last_line) for e in again.elements] == [
        (e.first_line, e.last_line) for e in screenplay.elements
    ]
    assert [e.id for e in again.elements] == [e.id for e in screenplay.elements]
    assert screenplay.scenes[0].first_line == 9 and screenplay.scenes[0].last_line == 34


def test_fdx_dual_dialogue_from_another_tool():
    screenplay = parse_fdx((FIXTURES / "screenplain-dual-dialogue.fdx").read_bytes())
    assert [(e.kind, e.text, e.dual) for e in screenplay.elements] == [
        ("character", "GIRL", False), ("dialogue", "Hey!", False),
        ("character", "GUY", True), ("dialogue", "Hello!", True),
    ]  # fmt: skip
    assert to_fountain(screenplay) == "GIRL\nHey!\n\nGUY ^\nHello!\n"


def test_fdx_script_notes_anchored_by_range():
    screenplay = parse_fdx(
        fdx(
            '<Paragraph Type="Scene Heading"><Text>INT. LAB - NIGHT</Text></Paragraph>'
            '<Paragraph Type="Action"><Text>Vials glow.</Text></Paragraph>',
        ).replace(
            b"</Content>",
            b'</Content><ScriptNotes><ScriptNote Range="20,25"><Paragraph><Text>Blue, not green.'
            b'</Text></Paragraph></ScriptNote><ScriptNote Range="900,910"><Paragraph><Text>Lost'
            b"</Text></Paragraph></ScriptNote></ScriptNotes>",
        )
    )
    heading, action, lost = screenplay.elements
    assert action.notes == ["Blue, not green."]
    assert (lost.kind, lost.text) == ("note", "Lost")


def test_an_fdx_note_range_of_unicode_digits_is_kept_unanchored():
    screenplay = parse_fdx(
        fdx('<Paragraph Type="Action"><Text>Vials glow.</Text></Paragraph>').replace(
            b"</Content>",
            '</Content><ScriptNotes><ScriptNote Range="\u00b2,3"><Paragraph><Text>Odd'
            "</Text></Paragraph></ScriptNote></ScriptNotes>".encode(),
        )
    )
    action, note = screenplay.elements
    assert (note.kind, note.text) == ("note", "Odd") and action.notes == []


def test_fdx_odd_paragraphs():
    screenplay = parse_fdx(
        fdx(
            '<Paragraph Type="Action"><Text>  </Text></Paragraph>'
            '<Paragraph Type="Character"><Text>narrator:</Text></Paragraph>'
            '<Paragraph Type="Parenthetical"><Text>softly</Text></Paragraph>'
            '<Paragraph Type="Dialogue"><Text>Once, </Text><Text Style="Bold">twice</Text></Paragraph>'
            '<Paragraph Type="Cast List"><Text>CAST</Text></Paragraph>'
            '<Paragraph Type="Teleplay Thing"><Text>Unknown kind</Text></Paragraph>'
            '<Paragraph Type="Transition"><Text>Dissolve.</Text></Paragraph>'
        )
    )
    assert [(e.kind, e.text) for e in screenplay.elements] == [
        ("character", "NARRATOR"), ("parenthetical", "(softly)"), ("dialogue", "Once, twice"),
        ("section", "CAST"), ("action", "Unknown kind"), ("transition", "DISSOLVE."),
    ]  # fmt: skip
    assert sequence(parse_fountain(to_fountain(screenplay))) == sequence(screenplay)


def test_to_fdx_reads_back():
    screenplay = parse_fountain(fixture("night-shift.fountain"))
    again = parse_fdx(to_fdx(screenplay))
    printed = (
        "heading",
        "action",
        "character",
        "parenthetical",
        "dialogue",
        "transition",
        "centered",
    )
    # Final Draft shows cues in capitals, so "@McCLANE" comes back as MCCLANE.
    assert [(e.kind, e.text, e.dual) for e in again.elements if e.kind in printed] == [
        (e.kind, e.text.upper() if e.kind == "character" else e.text, e.dual)
        for e in screenplay.elements
        if e.kind in printed
    ]
    assert [s.number for s in again.scenes] == [s.number for s in screenplay.scenes]
    assert again.title == "NIGHT SHIFT"


@pytest.mark.parametrize(
    "data, message",
    [
        (b"<FinalDraft><Content><Paragraph>", "The Final Draft file is damaged: "),
        (b'<FinalDraft><Content><Paragraph Type="Action"><Text>Cut off', "damaged: "),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "damaged: "),
        (b"", "damaged: "),
        (b"<html><body>Hi</body></html>", "not a Final Draft script: its XML starts with <html>"),
        (b"<FinalDraft><TitlePage/></FinalDraft>", "no script in it"),
    ],
)
def test_fdx_broken_files_are_refused_clearly(data, message):
    with pytest.raises(ScriptError, match=re.escape(message)):
        parse_fdx(data)


def test_fdx_damage_says_where():
    with pytest.raises(ScriptError) as raised:
        parse_fdx(b"<FinalDraft>\n<Content>\n<Paragraph>\n</Content>")
    assert re.search(r"line \d+, column \d+\.$", str(raised.value))


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<FinalDraft><Content><Paragraph Type="Action"><Text>&lol9;</Text></Paragraph></Content></FinalDraft>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE FinalDraft [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<FinalDraft><Content><Paragraph Type="Action"><Text>&secret;</Text></Paragraph></Content></FinalDraft>"""
DTD_ONLY = b"""<?xml version="1.0"?>
<!DOCTYPE FinalDraft SYSTEM "http://example.com/finaldraft.dtd">
<FinalDraft><Content/></FinalDraft>"""


@pytest.mark.parametrize(
    "data", [BILLION_LAUGHS, XXE, DTD_ONLY], ids=["billion-laughs", "xxe", "dtd"]
)
def test_fdx_entities_and_dtds_are_refused(data):
    with pytest.raises(ScriptError) as raised:
        parse_fdx(data)
    assert str(raised.value) == (
        "The Final Draft file declares entities or a DTD, which Slate refuses for safety."
    )
    assert "root:" not in str(raised.value)


def test_fdx_through_read_upload_never_reads_local_files():
    with pytest.raises(ScriptError, match="refuses for safety"):
        read_upload("evil.fdx", XXE)


# -- uploads --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    ["INT. CAFÉ - NIGHT\n".encode(), b"\xef\xbb\xbfINT. CAF\xc3\x89 - NIGHT\n",
     "INT. CAFÉ - NIGHT\n".encode("utf-16"), "INT. CAFÉ - NIGHT\n".encode("utf-16-be").join([b"\xfe\xff", b""]),
     "INT. CAFÉ - NIGHT\n".encode("utf-32")],
    ids=["utf-8", "utf-8-bom", "utf-16-le", "utf-16-be", "utf-32"],
)  # fmt: skip
def test_decode_text_reads_utf8_and_bom_marked_text(data):
    assert decode_text(data) == "INT. CAFÉ - NIGHT\n"


def test_decode_text_names_the_byte_that_is_not_utf8():
    latin1 = ("INT. DINER - NIGHT\n\nMara orders a caf" + "é" + ".\n").encode("latin-1")
    with pytest.raises(ScriptError) as raised:
        decode_text(latin1)
    assert str(raised.value) == (
        "The file is not UTF-8 text (byte 0xE9 at position 37, line 3). "
        "Save it as UTF-8 and import again."
    )


@pytest.mark.parametrize(
    "data",
    [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", b"INT. DINER\x00 - NIGHT\n", os.urandom(4096),
     b"\x01\x02\x03\x04\x05\x06 text \x07\x08\x0e\x0f" * 20],
    ids=["png", "nul", "random", "control-characters"],
)  # fmt: skip
def test_decode_text_refuses_binary_files(data):
    with pytest.raises(ScriptError, match=r"^The file is not (text|UTF-8 text)"):
        decode_text(data)


def test_read_upload_fountain_and_plain_text():
    data = (FIXTURES / "the-last-birthday-card.fountain").read_bytes()
    title, text, format_name = read_upload("birthday.fountain", data)
    assert (title, format_name) == ("THE LAST BIRTHDAY CARD", "fountain")
    assert text == data.decode()
    title, text, format_name = read_upload(
        "My Script.TXT", b"INT. DINER - NIGHT\r\n\r\nMara waits.\r\n"
    )
    assert (title, text, format_name) == (
        "My Script",
        "INT. DINER - NIGHT\n\nMara waits.\n",
        "plain",
    )
    assert read_upload("draft.spmd", b"Mara waits.\r")[1:] == ("Mara waits.\n", "fountain")


def test_read_upload_final_draft_becomes_fountain():
    title, text, format_name = read_upload(
        "sutter.FDX", (FIXTURES / "sutter-house.fdx").read_bytes()
    )
    assert (title, format_name) == ("THE SUTTER HOUSE", "fdx")
    assert text.startswith("Title: THE SUTTER HOUSE\nCredit: Written by\n")
    assert "\nINT. SUTTER HOUSE - DAY #12A#\n" in text
    assert len(parse_fountain(text).scenes) == 2


@pytest.mark.parametrize(
    "filename, data, message",
    [
        ("script.pdf", b"%PDF-1.4", "Import a .fountain, .txt or .fdx file."),
        ("script", b"INT. DINER", "Import a .fountain, .txt or .fdx file."),
        ("script.docx", b"PK\x03\x04", "Import a .fountain, .txt or .fdx file."),
        ("empty.fountain", b"", "empty.fountain is empty: there is no script in it."),
        ("blank.txt", b" \r\n\t\n", "blank.txt is empty: there is no script in it."),
        ("bom.fountain", b"\xef\xbb\xbf\n", "bom.fountain is empty: there is no script in it."),
        ("empty.fdx", b"", "empty.fdx is empty: there is no script in it."),
        ("photo.fountain", b"\x89PNG\r\n\x1a\n\x00\x00", "The file is not text"),
    ],
)
def test_read_upload_refusals(filename, data, message):
    with pytest.raises(ScriptError) as raised:
        read_upload(filename, data)
    assert str(raised.value).startswith(message)


# -- beats ----------------------------------------------------------------------------------


def test_beats_without_markers():
    screenplay = parse_fountain(
        "EXT. DINER PARKING LOT - NIGHT\n\nRain. MARA runs to the door.\n\nA neon sign flickers.\n\n"
        "John waits, his coffee cold.\n\nMARA\n(quietly)\nWe should go.\n\nJOHN (O.S.)\nNot yet.\n\n"
        "MARA\nWhy?\n\nCUT TO:\n"
    )
    found = beats(screenplay, 0)
    assert [(b.kind, b.shot_type, b.first_line, b.last_line) for b in found] == [
        ("establishing", "ews", 1, 3),  # EXT: extreme wide, carrying the opening action
        ("action", "insert", 5, 5),  # short, nobody in it
        ("action", "ms", 7, 7),
        ("dialogue", "ots", 9, 14),  # Mara then John
        ("dialogue", "mcu", 16, 17),  # Mara alone
    ]
    establishing, sign, _, exchange, alone = found
    assert establishing.element_ids == [e.id for e in screenplay.elements[:2]]
    assert establishing.action == "Rain. MARA runs to the door."
    assert establishing.characters == ["MARA"]
    assert (
        establishing.prompt
        == "Extreme wide shot. Exterior, diner parking lot, night. Rain. Mara runs to the door."
    )
    assert sign.prompt == "Insert shot. Exterior, diner parking lot, night. A neon sign flickers."
    assert exchange.dialogue == "MARA\n(quietly)\nWe should go.\n\nJOHN (O.S.)\nNot yet."
    assert exchange.characters == ["MARA", "JOHN"]
    assert (
        exchange.prompt
        == "Over-the-shoulder shot. Mara speaking to John, diner parking lot, night."
    )
    assert (
        exchange.action == ""
        and alone.prompt == "Medium close-up. Mara speaking, diner parking lot, night."
    )
    # (cue 2 + parenthetical 1 + dialogue 1) + (cue 2 + dialogue 1) lines at 60/55 s = 7.6 s
    assert exchange.duration_ms == 7600
    assert establishing.duration_ms == 4400  # heading 2 + action 2 lines
    assert alone.duration_ms == 3300


def test_establishing_shot_follows_the_heading():
    cases = {
        "INT. DINER - NIGHT": "ws", "EXT. ROAD - DAY": "ews", "EST. CITY - DAWN": "ews",
        "INT./EXT. CAR - DAY": "ws", ".SNIPER SCOPE POV": "pov", ".FLASHBACK": "ws",
    }  # fmt: skip
    for heading, shot in cases.items():
        found = beats(parse_fountain(f"{heading}\n\nMARA\nHi.\n"), 0)
        assert (found[0].kind, found[0].shot_type, found[0].action) == ("establishing", shot, ""), (
            heading
        )
        assert found[0].duration_ms == 3000  # the establishing minimum


def test_action_shot_heuristics():
    screenplay = parse_fountain(
        "INT. HOUSE - DAY\n\nMARA\nHi.\n\nJOHN\nHi.\n\nMara and John cross the room together.\n\n"
        "The kettle whistles.\n\nCLOSE ON the letter in her hand.\n\nINSERT - THE LETTER\n\n"
        "Mara reads it slowly, twice over, then folds it away.\n\n"
        "He sits, quietly, at the old table by the window, as the light fades.\n"
    )
    assert [b.shot_type for b in beats(screenplay, 0)] == [
        "ws",
        "ots",
        "ws",
        "insert",
        "cu",
        "insert",
        "ms",
        "ms",
    ]


def test_speeches_pair_long_ones_stand_alone_and_dual_ones_share_a_shot():
    long_speech = " ".join(["word"] * 40)  # 199 characters: 6 lines at 35
    screenplay = parse_fountain(
        f"INT. ROOM - DAY\n\nA\nOne.\n\nB\n{long_speech}\n\nA\nTwo.\n\nA\nThree.\n\nB\nFour.\n\n"
        "C\nSing.\n\nD ^\nSing too.\n"
    )
    found = beats(screenplay, 0)
    assert [(b.shot_type, b.characters) for b in found[1:]] == [
        ("mcu", ["A"]), ("cu", ["B"]), ("mcu", ["A"]), ("ots", ["A", "B"]), ("ms", ["C", "D"]),
    ]  # fmt: skip
    assert found[-1].prompt == "Medium shot. C and D speaking at once, room, day."


def test_beats_cut_at_panel_markers():
    screenplay = parse_fountain(
        "INT. DINER - NIGHT\n\nMara wipes the counter.\n\nThe door chimes. [[panel: wide on the door]]\n\n"
        "JOHN\nCoffee?\n\n[[panel: CU]]\n\nMARA\nNo.\n\n[[PANEL]]\n\n[[Panel: insert of the cup]]\n\n"
        "A cup, cold.\n"
    )
    found = beats(screenplay, 0)
    assert [(b.kind, b.shot_type, b.note, b.first_line, b.last_line) for b in found] == [
        ("establishing", "ws", "wide on the door", 1, 5),
        ("dialogue", "mcu", "", 7, 8),
        ("dialogue", "cu", "CU", 12, 13),
        ("action", "insert", "insert of the cup", 19, 19),
    ]
    assert found[0].action == "Mara wipes the counter.\n\nThe door chimes."
    assert all(not b.element_ids or not b.element_ids[0].startswith("note-") for b in found)


def test_beat_durations_are_clamped_and_rounded():
    huge = "\n\n".join(["MARA\n" + " ".join(["word"] * 200)] * 1)
    screenplay = parse_fountain(f"INT. ROOM - DAY\n\n{huge}\n\nA.\n")
    found = beats(screenplay, 0)
    assert found[1].duration_ms == 20_000
    assert all(b.duration_ms % 100 == 0 and 1000 <= b.duration_ms <= 20_000 for b in found)
    assert found[2].duration_ms == 2200  # one line and its blank


def test_beats_of_real_scenes_add_up_to_the_estimate():
    screenplay = parse_fountain(fixture("the-last-birthday-card.fountain"))
    for index, scene in enumerate(screenplay.scenes):
        found = beats(screenplay, index)
        assert found and found[0].kind == "establishing"
        assert all(len(b.prompt) < 300 and "\n" not in b.prompt for b in found)
        assert all(
            b.shot_type in ("ews", "ws", "fs", "ms", "mcu", "cu", "ecu", "ots", "pov", "insert")
            for b in found
        )
        total = sum(b.duration_ms for b in found) / 1000
        if scene.estimated_seconds > 10:
            assert total == pytest.approx(scene.estimated_seconds, rel=0.3), scene.heading
        ids = [i for b in found for i in b.element_ids]
        assert len(ids) == len(set(ids))


def test_prompts_soften_capitals_and_stay_short():
    screenplay = parse_fountain(
        "INT. SCOTT'S APARTMENT - DAY\n\nSCOTT"
        + " paints. A SOUND in the hall." * 30
        + "\n\nSCOTT\nWhat?\n"
    )
    prompt = beats(screenplay, 0)[0].prompt
    assert prompt.startswith(
        "Wide shot. Interior, Scott's apartment, day. Scott paints. A sound in the hall."
    )
    assert len(prompt) < 300


# -- merge ----------------------------------------------------------------------------------


BASE = "INT. DINER - NIGHT\n\nMara waits.\n\nMARA\nHello?\n\nJohn enters.\n"


def test_merge_of_edits_in_different_places_is_clean():
    mine = BASE.replace("Mara waits.", "Mara waits, alone.")
    theirs = BASE.replace("John enters.", "John enters, soaked.")
    text, conflicts = merge(BASE, mine, theirs)
    assert conflicts == 0
    assert (
        text == "INT. DINER - NIGHT\n\nMara waits, alone.\n\nMARA\nHello?\n\nJohn enters, soaked.\n"
    )


def test_merge_of_the_same_line_marks_the_conflict():
    mine = BASE.replace("Hello?", "Hi.").replace("John enters.", "John runs in.")
    theirs = BASE.replace("Hello?", "Anyone?").replace("John enters.", "John walks in.")
    text, conflicts = merge(BASE, mine, theirs, theirs_label="saved version 7")
    assert conflicts == 2
    assert text == (
        "INT. DINER - NIGHT\n\nMara waits.\n\nMARA\n"
        "<<<<<<< yours\nHi.\n=======\nAnyone?\n>>>>>>> saved version 7\n\n"
        "<<<<<<< yours\nJohn runs in.\n=======\nJohn walks in.\n>>>>>>> saved version 7\n"
    )


def test_merge_without_final_newlines_and_with_crlf():
    text, conflicts = merge("a\nb\nc\nd", "a\nB\nc\nd", "a\nb\nc\nD")
    assert (text, conflicts) == ("a\nB\nc\nD", 0)
    text, conflicts = merge("a\r\nb\r\n", "a\r\nx\r\n", "a\r\ny\r\n")
    assert conflicts == 1 and text.endswith(">>>>>>> latest\n")


def test_fdx_dialogue_without_a_cue_is_action():
    screenplay = parse_fdx(
        fdx(
            '<Paragraph Type="Dialogue"><Text>Nobody says this.</Text></Paragraph>'
            '<Paragraph Type="Character"><Text>MARA</Text></Paragraph>'
            '<Paragraph Type="Action"><Text>She says nothing.</Text></Paragraph>'
        )
    )
    assert [(e.kind, e.text) for e in screenplay.elements] == [
        ("action", "Nobody says this."), ("character", "MARA"), ("action", "She says nothing."),
    ]  # fmt: skip
    written = to_fountain(screenplay)
    assert written == "Nobody says this.\n\n@MARA\n\nShe says nothing.\n"
    assert sequence(parse_fountain(written)) == sequence(screenplay)


def test_sections_keep_hashes_that_are_not_decoration():
    screenplay = parse_fountain("# Learning C#\n\n## Sequence ##\n\n#hashtag#\n")
    assert [(e.text, e.depth) for e in screenplay.elements] == [
        ("Learning C#", 1), ("Sequence", 2), ("hashtag#", 1),
    ]  # fmt: skip


def test_speakers_are_found_in_action_by_name_and_possessive():
    screenplay = parse_fountain(
        "MARA\nHi.\n\nART GIRL\nHi.\n\nINT. GALLERY - DAY\n\nMARA'S coat hangs by the ART GIRL. "
        "MARAS is no one. Mara is not in capitals.\n"
    )
    assert screenplay.scenes[0].characters == ["MARA", "ART GIRL"]
    assert screenplay.speakers == ["MARA", "ART GIRL"]


def test_hostile_lines_are_read_like_any_other():
    # Each of these took a pattern-based reader quadratic time; they must read as plain text.
    stars = "*a " * 50_000
    assert parse_fountain(stars).elements[0].text == stars.rstrip()
    openers = "/* " * 50_000 + "\n\nINT. DINER - NIGHT\n"
    assert [e.kind for e in parse_fountain(openers).elements] == ["action", "heading"]
    notes = parse_fountain("[[a\n\n" * 20_000 + "]]")
    assert len(notes.elements) == 20_001 and notes.elements[-1].text == "]]"
    spaced = parse_fountain("A" + " " * 100_000 + "b\nnext\n")
    assert [e.kind for e in spaced.elements] == ["action"]
    heading = parse_fountain("." + "A" * 100_000 + " #1#\n").elements[0]
    assert (heading.kind, heading.scene_number, len(heading.text)) == ("heading", "1", 100_000)


def test_prompts_give_characters_their_full_names_and_places_plain_words():
    screenplay = parse_fountain(fixture("brick-and-steel-crlf.fountain"))
    establishing, door = beats(screenplay, 0)[:2]
    assert establishing.prompt == (
        "Extreme wide shot. Exterior, Brick's patio, day. A gorgeous day. The sun is shining. "
        "But Brick Braddock, retired police detective, is sitting quietly, contemplating -- something."
    )
    assert door.prompt.startswith(
        "Medium shot. Exterior, Brick's patio, day. The screen door slides"
    )
    assert "Dick Steel" in door.prompt
