"""The streaming output guard releases, chunk by chunk, exactly what the whole-answer guard gives — for every
way the answer can be cut — and never a byte of a match before its verdict."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.detectors import Finding
from guardrails.effective import AppliedRule, Effective
from guardrails.guard import Blocked, Guard
from guardrails.stream import StreamGuard
from registry.policy_spec import RuleSpec

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_TAIL = re.compile(r"[\w.+@-]*$")
_WORD = re.compile(r"\bforbidden\b")


class Email:
    """A stand-in e-mail detector with the contract's shape (the real ones are tested on their own)."""

    name = "email"

    def find(self, text: str) -> list[Finding]:
        return [Finding("email", m.start(), m.end()) for m in _EMAIL.finditer(text)]

    def hold_from(self, text: str) -> int:
        return _TAIL.search(text).start()


class Forbidden:
    name = "deny_list"

    def find(self, text: str) -> list[Finding]:
        return [Finding("deny_list", m.start(), m.end()) for m in _WORD.finditer(text)]

    def hold_from(self, text: str) -> int:
        return re.search(r"\w*$", text).start()


def _rule(detector, action: str, placeholder: str) -> AppliedRule:
    return AppliedRule(RuleSpec(detector.name, action), "p", 1, detector, placeholder)


def _guard(*output: AppliedRule, unmask: bool = True, input_masks: tuple[str, ...] = ()) -> Guard:
    guard = Guard(Effective(input=(_rule(Email(), "mask", "EMAIL"),), output=output, unmask_output=unmask))
    for text in input_masks:
        guard.input_text(text)
    return guard


def _streamed(guard: Guard, pieces: list[str]) -> tuple[str, list[str]]:
    stream = StreamGuard(guard)
    released = [stream.feed(p) for p in pieces]
    released.append(stream.finish())
    return "".join(released), released


def _cuts(text: str, points: list[int]) -> list[str]:
    points = sorted({p % (len(text) + 1) for p in points})
    edges = [0, *points, len(text)]
    return [text[a:b] for a, b in zip(edges, edges[1:], strict=False) if b > a]


ANSWER = "Write to <EMAIL_1> or to bob@corp.example.org, cc <EMAIL_2>; not <EMAIL_9>. Thanks <EMAIL_1>!"


def test_placeholders_come_back_and_new_addresses_are_masked():
    guard = _guard(_rule(Email(), "mask", "EMAIL"), input_masks=("mail ann@a.example and joe@b.example",))
    whole = guard.output_text(ANSWER)
    assert whole == ("Write to ann@a.example or to <EMAIL_3>, cc joe@b.example; not <EMAIL_9>. "
                     "Thanks ann@a.example!")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(ANSWER)), max_size=30))
def test_every_cut_of_the_stream_gives_the_whole_answers_result(points):
    masks = ("mail ann@a.example and joe@b.example",)
    expected = _guard(_rule(Email(), "mask", "EMAIL"), input_masks=masks).output_text(ANSWER)
    streamed, released = _streamed(_guard(_rule(Email(), "mask", "EMAIL"), input_masks=masks), _cuts(ANSWER, points))
    assert streamed == expected
    assert not any("bob@" in piece for piece in released)  # the new address never leaves unmasked, even in part
    assert not any(re.search(r"<EMAIL_[12]", piece) for piece in released)  # restored, never sent half


def test_one_character_at_a_time():
    masks = ("mail ann@a.example and joe@b.example",)
    expected = _guard(_rule(Email(), "mask", "EMAIL"), input_masks=masks).output_text(ANSWER)
    streamed, _ = _streamed(_guard(_rule(Email(), "mask", "EMAIL"), input_masks=masks), list(ANSWER))
    assert streamed == expected


def test_text_is_held_back_only_while_a_detector_could_still_need_it():
    guard = _guard(_rule(Email(), "mask", "EMAIL"), input_masks=("ann@a.example",))
    stream = StreamGuard(guard)
    assert stream.feed("The answer is plain prose, ") == "The answer is plain prose, "
    assert stream.feed("then an address ann") == "then an address "  # "ann" could start an address
    assert stream.feed("@a.example") == ""  # still could go on
    assert stream.feed(" and done") == "ann@a.example and "  # the caller's own address, which it may see
    assert stream.feed(". Ask <EMA") == "done. Ask "
    assert stream.feed("IL_1> now") == "ann@a.example "  # the input's placeholder comes back, whole
    assert stream.finish() == "now"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=60), max_size=12))
def test_a_block_stops_the_stream_before_any_byte_of_the_match(points):
    text = "All fine so far, then the forbidden word, then more text after it."
    guard = _guard(_rule(Forbidden(), "block", "DENIED"), unmask=False)
    stream = StreamGuard(guard)
    sent = []
    with pytest.raises(Blocked):
        for piece in _cuts(text, points):
            sent.append(stream.feed(piece))
        sent.append(stream.finish())
    assert "forb" not in "".join(sent)
    assert "".join(sent) == text[:len("".join(sent))]  # what was sent is a clean prefix
    assert guard.record() == [{"policy": "p", "version": 1, "stage": "output", "detector": "deny_list", "label": "",
                               "action": "block", "count": 1}]


def test_an_address_only_the_model_wrote_stays_masked():
    guard = _guard(_rule(Email(), "mask", "EMAIL"), input_masks=("ann@a.example",))
    assert guard.output_text("ann@a.example, <EMAIL_1> and zed@z.example") == (
        "ann@a.example, ann@a.example and <EMAIL_2>")


def test_held_text_at_the_end_is_decided_then():
    guard = _guard(_rule(Email(), "mask", "EMAIL"), unmask=False)
    stream = StreamGuard(guard)
    assert stream.feed("reach me at eve@x.example") == "reach me at "
    assert stream.finish() == "<EMAIL_1>"


def test_without_output_rules_or_masks_text_passes_untouched():
    guard = Guard(Effective())
    stream = StreamGuard(guard)
    assert stream.feed("ann@a.example <EMA") == "ann@a.example <EMA"
