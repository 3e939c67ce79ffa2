"""Prompt injection and jailbreak patterns, scored.

Each pattern has a weight wᵢ in (0, 1): how sure one match of it alone makes us. A text's score is
``1 − Π(1 − wᵢ)`` over the distinct patterns (labels) it matches, the strongest match of each, so two medium signals ("ignore the previous
instructions" and "reveal your system prompt") add up to more than either, and no number of matches of one
pattern counts twice. The rule fires at ``threshold`` (the rule's, else ``DEFAULT_INJECTION_THRESHOLD``).

*Mention, not use*: a phrase in quotation marks, or in a text that talks about prompt injection or
jailbreaks as a subject (questions, detection, defence, classification), has its weight scaled down, so
"how do I defend against 'ignore previous instructions' attacks?" scores well below the default while the
same words used as an instruction do not. This is a heuristic an attacker can game (by adding the words);
it exists so that security questions are not blocked, and the weights were set on the labelled set in
``tests/guardrails/prompts``. Each finding is one matched phrase; all carry the text's combined score.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from registry.policy_spec import DEFAULT_INJECTION_THRESHOLD

from .base import Finding, non_overlapping

_F = re.IGNORECASE
_ALL = r"(?:(?:all|any|every|each|the|of|your|these|those|its)\s+){0,3}"
_BEFORE = r"(?:previous|prior|above|earlier|preceding|foregoing|former|initial|original|system|developer|existing)"
_ORDERS = r"(?:instructions?|prompts?|rules?|directions?|directives?|guidelines?|messages?|context|commands?|constraints?|orders|programming|guardrails)"


@dataclass(frozen=True, slots=True)
class InjectionPattern:
    label: str
    weight: float
    regex: re.Pattern[str]


def _p(label: str, weight: float, pattern: str) -> InjectionPattern:
    return InjectionPattern(label, weight, re.compile(pattern, _F))


PATTERNS = (
    _p("ignore_instructions", 0.6,
       rf"\b(?:ignore|disregard|forget|skip|override|bypass|discard|neglect)\s+{_ALL}{_BEFORE}\s+{_ORDERS}"),
    _p("ignore_instructions", 0.6,
       rf"\b(?:ignore|disregard|forget|override|bypass)\s+{_ALL}(?:your|the\s+system'?s?)\s+"
       r"(?:instructions|rules|guidelines|programming|training|restrictions|safety\s+\w+|system\s+prompt|policies|guardrails|filters)"),
    _p("disregard_above", 0.55,
       r"\b(?:disregard|ignore|forget)\s+(?:(?:everything|all|anything|whatever|the)\s+)?(?:(?:that\s+)?(?:was\s+)?(?:written|said|stated)\s+)?"
       r"(?:above|before\s+this|prior\s+to\s+this|(?:you(?:'ve|\s+have|\s+were)\s+(?:been\s+)?(?:told|given|instructed)))"),
    _p("dan", 0.6, r"\b(?:you\s+are\s+(?:now\s+)?|act\s+as\s+|pretend\s+to\s+be\s+|become\s+|you'?re\s+(?:now\s+)?)(?:an?\s+)?"
                   r"(?:DAN|STAN|DUDE|AIM|jailbroken|unfiltered|uncensored|unrestricted|evil\s+(?:AI|assistant|twin))\b"),
    _p("dan", 0.6, r"\bDo\s+Anything\s+Now\b"),
    _p("jailbreak_mode", 0.55, r"\b(?:god|jailbreak|jailbroken|DAN|unrestricted|unfiltered|uncensored|evil|no[-\s]limits?)\s+mode\b"),
    _p("developer_mode", 0.3, r"\b(?:developer|dev|debug|admin|sudo|maintenance)\s+mode\b"),
    _p("developer_mode", 0.35, r"\b(?:developer|DAN|jailbreak)\s+mode\s+(?:is\s+)?(?:now\s+)?(?:enabled|activated)\b"),
    _p("reveal_system_prompt", 0.55,
       r"\b(?:reveal|show|print|output|display|repeat|tell|give|leak|dump|write\s+out|recite|share|expose|return|copy)\s+"
       r"(?:me\s+|us\s+)?(?:back\s+)?(?:your|the)\s+(?:(?:full|entire|original|hidden|secret|initial|exact|complete|confidential|whole|verbatim)\s+)*"
       r"(?:system\s+(?:prompt|message|instructions)|initial\s+(?:prompt|instructions)|hidden\s+(?:prompt|instructions)|"
       r"instructions\s+(?:above|you\s+were\s+given)|prompt\s+above|developer\s+(?:prompt|message)|pre-?prompt|text\s+above)"),
    _p("reveal_system_prompt", 0.45,
       r"\bwhat\s+(?:is|are|was|were)\s+your\s+(?:(?:full|exact|original|initial|hidden|secret)\s+)?"
       r"(?:system\s+prompt|system\s+message|initial\s+instructions|original\s+instructions|hidden\s+instructions)"),
    _p("reveal_system_prompt", 0.45, r"\b(?:repeat|print|output)\s+(?:the\s+)?(?:words|text)\s+above\b"),
    _p("new_instructions", 0.35, r"\b(?:new|updated|real|actual|true|secret|override)\s+instructions?\s*:"),
    _p("new_instructions", 0.3, r"\bfrom\s+now\s+on,?\s+you\s+(?:will|are|must|shall|have\s+to)\b"),
    _p("no_restrictions", 0.45, r"\byou\s+(?:have|has|now\s+have)\s+no\s+(?:restrictions|limitations|rules|filters|guidelines|limits|boundaries|ethics|morals)"),
    _p("no_restrictions", 0.45,
       r"\b(?:not|never|no\s+longer)\s+(?:be\s+)?(?:bound|restricted|limited)\s+by\s+(?:any\s+)?(?:rules|guidelines|polic(?:y|ies)|"
       r"restrictions|openai|anthropic|ethics|content\s+polic(?:y|ies))"),
    _p("no_restrictions", 0.5,
       r"\b(?:bypass|circumvent|evade|disable|turn\s+off|deactivate|remove)\s+(?:all\s+)?(?:of\s+)?(?:your|the|its)\s+"
       r"(?:safety|content|ethical|moderation)\s+(?:filters?|guidelines|polic(?:y|ies)|restrictions|guardrails|protocols|settings)"),
    _p("no_restrictions", 0.5,
       r"\b(?:pretend|imagine|act\s+as\s+if|suppose)\s+(?:that\s+)?you\s+(?:are|have|were|had)\s+(?:an?\s+AI\s+)?(?:with\s+)?no\s+"
       r"(?:rules|restrictions|filters|limits|limitations|guidelines|content\s+polic(?:y|ies))"),
    _p("no_longer_assistant", 0.5,
       r"\byou\s+are\s+no\s+longer\s+(?:an?\s+)?(?:AI|assistant|language\s+model|ChatGPT|Claude|bound|restricted|helpful)"),
    _p("roleplay_marker", 0.25, r"\bstay\s+in\s+character\b"),
    _p("roleplay_marker", 0.45, r"\[(?:🔓\s*)?(?:JAILBREAK|DAN|DEVELOPER\s+MODE(?:\s+OUTPUT)?)\]"),
    _p("roleplay_marker", 0.3, r"\b(?:two|both)\s+(?:responses|answers|ways)\b.{0,60}\b(?:jailbroken|unfiltered|DAN|developer\s+mode)\b"),
    _p("roleplay_marker", 0.2, r"\bjailbr(?:oken|eak)\b"),
    _p("chat_template", 0.45, r"<\|im_start\|>\s*system|<\|system\|>|<<SYS>>|\[/?INST\]|<\|endoftext\|>|<\|eot_id\|>"),
    _p("chat_template", 0.35, r"(?:^|\n)\s*#{2,}\s*(?:system|instructions?)\s*(?:prompt)?\s*:?\s*(?:\n|$)"),
    _p("addressed_to_model", 0.35,
       r"\b(?:note|message|instructions?|attention)\s+(?:to|for)\s+(?:the\s+)?(?:AI|LLM|assistant|language\s+model|chatbot|model)\b"),
    _p("addressed_to_model", 0.35, r"\b(?:if|when)\s+you\s+are\s+an?\s+(?:AI|LLM|language\s+model|AI\s+assistant)\b.{0,40}\b(?:must|should|will|ignore)\b"),
    _p("exfiltration", 0.5,
       r"\b(?:send|post|forward|upload|exfiltrate|email|transmit)\s+(?:(?:the|all|this|your|my|every)\s+){0,2}"
       r"(?:conversation|chat\s+history|previous\s+messages|user(?:'s)?\s+data|credentials|secrets?|api\s+keys?|system\s+prompt)\s+to\s+"
       r"(?:https?://|\S+@|this\s+(?:url|address|endpoint))"),
)

# Talking about injection rather than doing it: the text's subject is prompt injection or jailbreaks.
_DISCUSSION = re.compile(
    r"\bprompt[\s-]injections?\b|\bjailbreak(?:s|ing)?\s+(?:attempts?|attacks?|prompts?|techniques?|detection)\b"
    r"|\b(?:detect|detecting|detection|prevent|preventing|defend|defending|defen[cs]e|mitigat\w*|classif\w*|guardrails?"
    r"|red[\s-]team\w*|adversarial|attackers?|security\s+(?:training|awareness|research))\b", _F)
_QUOTES = "\"'“”‘’«»`"
QUOTED_FACTOR = 0.35
DISCUSSION_FACTOR = 0.5
LONGEST = 200  # characters: the longest phrase a pattern is meant to match (for hold_from)


def _quoted(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 2):start]
    after = text[end:end + 2]
    return any(q in before for q in _QUOTES) or any(q in after for q in _QUOTES)


def score(text: str) -> tuple[float, list[Finding]]:
    """The text's combined score and one (unscored) finding per matched phrase."""
    discussion = _DISCUSSION.search(text) is not None
    weights: dict[str, float] = {}
    spans: list[Finding] = []
    for pattern in PATTERNS:
        for m in pattern.regex.finditer(text):
            w = pattern.weight
            if _quoted(text, m.start(), m.end()):
                w *= QUOTED_FACTOR
            if discussion:
                w *= DISCUSSION_FACTOR
            weights[pattern.label] = max(weights.get(pattern.label, 0.0), w)
            spans.append(Finding("prompt_injection", m.start(), m.end(), 0.0, pattern.label))
    miss = 1.0
    for w in weights.values():
        miss *= 1.0 - w
    return 1.0 - miss, spans


class InjectionDetector:
    """Fires when the text's combined score reaches ``threshold``; every finding carries that score."""

    name = "prompt_injection"

    def __init__(self, threshold: float | None = None) -> None:
        self.threshold = DEFAULT_INJECTION_THRESHOLD if threshold is None else threshold

    def find(self, text: str) -> list[Finding]:
        combined, spans = score(text)
        if not spans or combined < self.threshold:
            return []
        combined = round(combined, 4)
        return [Finding(f.detector, f.start, f.end, combined, f.label) for f in non_overlapping(spans)]

    def hold_from(self, text: str) -> int:
        """The trailing run of words and spaces, up to the longest phrase: a pattern may still complete there."""
        start = len(text)
        floor = max(0, len(text) - LONGEST)
        while start > floor and (text[start - 1].isalnum() or text[start - 1] in " \t\n'’-_:|<>[]#🔓"):
            start -= 1
        return start
