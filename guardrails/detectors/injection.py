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
from collections.abc import Callable
from dataclasses import dataclass

from registry.policy_spec import DEFAULT_INJECTION_THRESHOLD

from .base import Finding, fold, non_overlapping

_ALL = r"(?:(?:all|any|every|each|the|of|your|these|those|its)\s{1,4}){0,3}"
_BEFORE = r"(?:previous|prior|above|earlier|preceding|foregoing|former|initial|original|system|developer|existing)"
_ORDERS = r"(?:instructions?|prompts?|rules?|directions?|directives?|guidelines?|messages?|context|commands?|constraints?|orders|programming|guardrails)"


@dataclass(frozen=True, slots=True)
class InjectionPattern:
    """A phrase and its weight; ``needles``: groups of lower-case words, the regex runs only when every group
    has one of its words in the lower-cased text. A substring test costs ~3 µs on a 2,000-token prompt, a
    regex ~150 µs (re tries every position), so most texts skip every regex; the first group is the rarest,
    and each word is looked up once per text (``score``)."""

    label: str
    weight: float
    needles: tuple[tuple[str, ...], ...]
    regex: re.Pattern[str]

    def may_match(self, has: Callable[[str], bool]) -> bool:
        return all(any(has(n) for n in group) for group in self.needles)


def _p(label: str, weight: float, needles: str, pattern: str) -> InjectionPattern:
    groups = tuple(tuple(g.split("|")) for g in needles.split(" / "))  # "a|b / c": (a or b) and c
    return InjectionPattern(label, weight, groups, re.compile(pattern))


_S = r"\s{1,4}"
_VERBS = "ignore|disregard|forget|skip|override|bypass|discard|neglect"
_NOUNS = "instruction|prompt|rule|direction|directive|guideline|message|context|command|constraint|order|programming|guardrail"

# Patterns are lower case and run on the lower-cased text (no IGNORECASE: re is several times faster without it).
PATTERNS = (
    _p("ignore_instructions", 0.6, f"{_VERBS} / {_NOUNS} / previous|prior|above|earlier|preceding|foregoing|former"
       "|initial|original|system|developer|existing",
       rf"\b(?:ignore|disregard|forget|skip|override|bypass|discard|neglect){_S}{_ALL}{_BEFORE}{_S}{_ORDERS}"),
    _p("ignore_instructions", 0.6, "ignore|disregard|forget|override|bypass / your|system",
       rf"\b(?:ignore|disregard|forget|override|bypass){_S}{_ALL}(?:your|the{_S}system'?s?){_S}"
       rf"(?:instructions|rules|guidelines|programming|training|restrictions|safety{_S}\w+|system{_S}prompt|policies"
       r"|guardrails|filters)"),
    _p("disregard_above", 0.55, "disregard|ignore|forget / above|before|prior|told|given|instructed",
       rf"\b(?:disregard|ignore|forget){_S}(?:(?:everything|all|anything|whatever|the){_S})?"
       rf"(?:(?:that{_S})?(?:was{_S})?(?:written|said|stated){_S})?"
       rf"(?:above|before{_S}this|prior{_S}to{_S}this|(?:you(?:'ve|{_S}have|{_S}were){_S}(?:been{_S})?(?:told|given|instructed)))"),
    _p("dan", 0.6, "dan|stan|dude|aim|jailbr|unfilter|uncensor|unrestrict|evil / you|act|pretend|become",
       rf"\b(?:you{_S}are{_S}(?:now{_S})?|act{_S}as{_S}|pretend{_S}to{_S}be{_S}|become{_S}|you'?re{_S}(?:now{_S})?)(?:an?{_S})?"
       rf"(?:dan|stan|dude|aim|jailbroken|unfiltered|uncensored|unrestricted|evil{_S}(?:ai|assistant|twin))\b"),
    _p("dan", 0.6, "anything / now", rf"\bdo{_S}anything{_S}now\b"),
    _p("jailbreak_mode", 0.55, "mode / god|jailbr|dan|unrestrict|unfilter|uncensor|evil|limit",
       rf"\b(?:god|jailbreak|jailbroken|dan|unrestricted|unfiltered|uncensored|evil|no[-\s]limits?){_S}mode\b"),
    _p("developer_mode", 0.3, "mode / developer|dev|debug|admin|sudo|maintenance",
       rf"\b(?:developer|dev|debug|admin|sudo|maintenance){_S}mode\b"),
    _p("developer_mode", 0.35, "mode / enabled|activated",
       rf"\b(?:developer|dan|jailbreak){_S}mode{_S}(?:is{_S})?(?:now{_S})?(?:enabled|activated)\b"),
    _p("reveal_system_prompt", 0.55, "system|initial|hidden|above|developer|pre-prompt|preprompt / prompt|instructions|message|text / your|the",
       rf"\b(?:reveal|show|print|output|display|repeat|tell|give|leak|dump|write{_S}out|recite|share|expose|return|copy){_S}"
       rf"(?:me{_S}|us{_S})?(?:back{_S})?(?:your|the){_S}"
       rf"(?:(?:full|entire|original|hidden|secret|initial|exact|complete|confidential|whole|verbatim){_S}){{0,3}}"
       rf"(?:system{_S}(?:prompt|message|instructions)|initial{_S}(?:prompt|instructions)|hidden{_S}(?:prompt|instructions)|"
       rf"instructions{_S}(?:above|you{_S}were{_S}given)|prompt{_S}above|developer{_S}(?:prompt|message)|pre-?prompt"
       rf"|text{_S}above)"),
    _p("reveal_system_prompt", 0.45, "your / system|initial|original|hidden / what",
       rf"\bwhat{_S}(?:is|are|was|were){_S}your{_S}(?:(?:full|exact|original|initial|hidden|secret){_S})?"
       rf"(?:system{_S}prompt|system{_S}message|initial{_S}instructions|original{_S}instructions|hidden{_S}instructions)"),
    _p("reveal_system_prompt", 0.45, "above / repeat|print|output",
       rf"\b(?:repeat|print|output){_S}(?:the{_S})?(?:words|text){_S}above\b"),
    _p("new_instructions", 0.35, "instruction / new|updated|real|actual|true|secret|override",
       r"\b(?:new|updated|real|actual|true|secret|override)\s{1,4}instructions?\s{0,4}:"),
    _p("new_instructions", 0.3, "from now on", rf"\bfrom{_S}now{_S}on,?{_S}you{_S}(?:will|are|must|shall|have{_S}to)\b"),
    _p("no_restrictions", 0.45, "you / restriction|limitation|rule|filter|guideline|limit|boundar|ethic|moral / have|has",
       rf"\byou{_S}(?:have|has|now{_S}have){_S}no{_S}"
       r"(?:restrictions|limitations|rules|filters|guidelines|limits|boundaries|ethics|morals)"),
    _p("no_restrictions", 0.45, "bound by|restricted by|limited by",
       rf"\b(?:not|never|no{_S}longer){_S}(?:be{_S})?(?:bound|restricted|limited){_S}by{_S}(?:any{_S})?"
       rf"(?:rules|guidelines|polic(?:y|ies)|restrictions|openai|anthropic|ethics|content{_S}polic(?:y|ies))"),
    _p("no_restrictions", 0.5, "safety|content|ethical|moderation / bypass|circumvent|evade|disable|turn|deactivate|remove",
       rf"\b(?:bypass|circumvent|evade|disable|turn{_S}off|deactivate|remove){_S}(?:all{_S})?(?:of{_S})?(?:your|the|its){_S}"
       rf"(?:safety|content|ethical|moderation){_S}(?:filters?|guidelines|polic(?:y|ies)|restrictions|guardrails|protocols"
       r"|settings)"),
    _p("no_restrictions", 0.5, "pretend|imagine|act|suppose / rules|restrictions|filters|limits|limitations|guidelines|polic",
       rf"\b(?:pretend|imagine|act{_S}as{_S}if|suppose){_S}(?:that{_S})?you{_S}(?:are|have|were|had){_S}(?:an?{_S}ai{_S})?"
       rf"(?:with{_S})?no{_S}(?:rules|restrictions|filters|limits|limitations|guidelines|content{_S}polic(?:y|ies))"),
    _p("unrestricted_ai", 0.4, "without|with no / limits|restrictions|filters|rules|guidelines|censorship",
       rf"\b(?:ai|assistant|model|chatbot|bot){_S}(?:without|with{_S}no){_S}(?:any{_S})?"
       r"(?:limits|restrictions|filters|rules|guidelines|censorship)\b"),
    _p("no_longer_assistant", 0.5, "no longer",
       rf"\byou{_S}are{_S}no{_S}longer{_S}(?:an?{_S})?"
       r"(?:ai|assistant|language\s{1,4}model|chatgpt|claude|bound|restricted|helpful)"),
    _p("stay_in_character", 0.25, "in character", rf"\bstay{_S}in{_S}character\b"),
    _p("jailbreak_tag", 0.45, "jailbreak|dan|developer / [", r"\[(?:🔓\s{0,4})?(?:jailbreak|dan|developer\s{1,4}mode(?:\s{1,4}output)?)\]"),
    _p("dual_response", 0.3, "jailbr|unfilter|dan|developer / two|both|twice / responses|answers|ways|normally",
       rf"\b(?:(?:two|both){_S}(?:responses|answers|ways)|(?:respond|answer){_S}twice)\b.{{0,80}}"
       rf"\b(?:jailbroken|unfiltered|dan|developer{_S}mode)\b"),
    _p("jailbreak_word", 0.2, "jailbr", r"\bjailbr(?:oken|eak)\b"),
    _p("chat_template", 0.45, "im_start|<<sys|inst]|endoftext|eot_id|system",
       r"<\|im_start\|>\s{0,4}system|<\|system\|>|<<sys>>|\[/?inst\]|<\|endoftext\|>|<\|eot_id\|>"),
    _p("chat_template", 0.35, "## / system|instruction",
       r"(?:^|\n)[ \t]{0,4}#{2,6}[ \t]{0,4}(?:system|instructions?)[ \t]{0,4}(?:prompt)?[ \t]{0,4}:?[ \t]{0,4}(?:\n|$)"),
    _p("addressed_to_model", 0.35, "note to|note for|message to|message for|instructions for|instruction for|attention / ai|llm|assistant|chatbot|model",
       rf"\b(?:note|message|instructions?|attention){_S}(?:to|for){_S}(?:the{_S})?"
       r"(?:ai|llm|assistant|language\s{1,4}model|chatbot|model)\b"),
    _p("addressed_to_model", 0.35, "you are a / ai|llm|model|assistant / must|should|will|ignore",
       rf"\b(?:if|when){_S}you{_S}are{_S}an?{_S}(?:ai|llm|language{_S}model|ai{_S}assistant)\b.{{0,40}}"
       r"\b(?:must|should|will|ignore)\b"),
    _p("exfiltration", 0.5, "conversation|history|previous|user|credential|secret|api|prompt / send|post|forward|upload|exfiltrate|email"
       "|transmit / http|@|url|address|endpoint",
       rf"\b(?:send|post|forward|upload|exfiltrate|email|transmit){_S}(?:(?:the|all|this|your|my|every){_S}){{0,2}}"
       rf"(?:conversation|chat{_S}history|previous{_S}messages|user(?:'s)?{_S}data|credentials|secrets?|api{_S}keys?"
       rf"|system{_S}prompt){_S}to{_S}(?:https?://|\S{{1,64}}@|this{_S}(?:url|address|endpoint))"),
)

# Talking about injection rather than doing it: the text's subject is prompt injection or jailbreaks.
_DISCUSSION = re.compile(  # on the lower-cased text
    r"\bprompt[\s-]injections?\b|\bjailbreak(?:s|ing)?\s{1,4}(?:attempts?|attacks?|prompts?|techniques?|detection)\b"
    r"|\b(?:detect|detecting|detection|prevent|preventing|defend|defending|defen[cs]e|mitigat\w*|classif\w*|guardrails?"
    r"|red[\s-]team\w*|adversarial|security\s{1,4}(?:training|awareness|research))\b")
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
    lowered = fold(text)
    seen: dict[str, bool] = {}

    def has(needle: str) -> bool:
        found = seen.get(needle)
        if found is None:
            found = seen[needle] = needle in lowered
        return found

    discussion: bool | None = None
    weights: dict[str, float] = {}
    spans: list[Finding] = []
    for pattern in PATTERNS:
        if not pattern.may_match(has):
            continue
        for m in pattern.regex.finditer(lowered):
            if discussion is None:
                discussion = _DISCUSSION.search(lowered) is not None
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
