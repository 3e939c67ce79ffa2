"""A guardrail policy's document: its file format, checked, and brought to one canonical form.

The document is what a policy applies to and what it does; ``registry apply`` reads it under each entry
of ``policies:`` (beside ``name``, ``description`` and ``enabled``), the pages and the API take it alone::

    applies_to: {aliases: [fast-chat]}      # and/or tenants (team slugs), classifications, regions; none: every call
    input:
      - {detector: email, action: mask}
      - {detector: prompt_injection, action: block, threshold: 0.7}
      - {detector: deny_list, action: block, terms: ["project falcon"]}
    output:
      - {detector: email, action: mask}
    unmask_output: true                     # give the caller back what the input step masked
    residency: {regions: [eu]}              # endpoint regions this traffic may reach (policy_spec.region_allowed)
    payload_logging: off                    # off | metadata | redacted | full (YAML's bare off is read as off)

``canonical`` refuses anything else with every problem at once, each naming its path
(``input[1].action: 'mask' is not allowed for prompt_injection``), and returns the document in one form:
keys in the order above and only those set, rules in the catalogue's order (their order means nothing: one
rule per detector and stage), name lists sorted (classifications and regions in their choices' order),
deny-list terms stripped and without repeats (ignoring case). Equal policies therefore have equal documents, and applying a
file twice makes no second version. Whether the aliases and teams named exist is the services' business
(``registry.services_policies``): this module does no I/O.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from django.core.exceptions import ValidationError

from aiplatform.roles import Region
from registry.models.rules import RULE_CLASSIFICATIONS
from registry.policy_spec import (
    ACTIONS,
    APPLIES_TO,
    DETECTORS,
    PAYLOAD_LOGGING,
    PAYLOAD_OFF,
    STAGES,
    PolicySpec,
    RuleSpec,
)

DOCUMENT_KEYS = ("applies_to", *STAGES, "unmask_output", "residency", "payload_logging")
RULE_KEYS = ("detector", "action", "threshold", "terms")
RESIDENCY_KEYS = ("regions",)

# The values a dimension of ``applies_to`` takes (None: names the services check: team slugs, alias names).
APPLIES_TO_VALUES: dict[str, tuple[str, ...] | None] = {
    "aliases": None,
    "tenants": None,
    "classifications": RULE_CLASSIFICATIONS,
    "regions": tuple(Region.values),
}
assert tuple(APPLIES_TO_VALUES) == APPLIES_TO

MAX_NAMES = 1_000  # per dimension of applies_to, and residency regions
MAX_NAME_LENGTH = 200
MAX_TERMS = 10_000
MAX_TERM_LENGTH = 200
# An endpoint region as the registry stores them (Endpoint.region, Provider.region: up to 32 characters):
# eu, eu-west-1, us-ca, westeurope.
REGION_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
REGION_MAX_LENGTH = 32
_DETECTOR_ORDER = {name: i for i, name in enumerate(DETECTORS)}


class PolicyDocumentInvalid(ValidationError):
    """A document refused: ``problems`` lists every (path, message); the messages read ``path: message``."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__([f"{path}: {message}" for path, message in self.problems])


class _Checker:
    """Walks a document, collecting every problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def mapping(self, value: Any, path: str, allowed: tuple[str, ...]) -> dict | None:
        if not isinstance(value, dict):
            self.problem(path, "must be a mapping")
            return None
        for key in value:
            if key not in allowed:
                self.problem(f"{path}.{key}" if path != "(document)" else str(key),
                             f"unknown key (known: {', '.join(allowed)})")
        return value

    def names(self, value: Any, path: str, allowed: tuple[str, ...] | None) -> list[str]:
        """A list of names; ``allowed`` the values it may take (None: any name)."""
        if not isinstance(value, list) or any(not isinstance(v, str) or not v.strip() for v in value):
            self.problem(path, "must be a list of names")
            return []
        if len(value) > MAX_NAMES:
            self.problem(path, f"names at most {MAX_NAMES}")
            return []
        names = [v.strip() for v in value]
        if allowed is not None:
            unknown = [v for v in names if v not in allowed]
            if unknown:
                self.problem(path, f"unknown {', '.join(unknown)} (known: {', '.join(allowed)})")
                return []
            return [v for v in allowed if v in names]
        bad = [v for v in names if len(v) > MAX_NAME_LENGTH or "\x00" in v]
        if bad:
            self.problem(path, f"a name is at most {MAX_NAME_LENGTH} characters")
            return []
        return sorted(set(names))


def canonical(doc: Any) -> dict:
    """The canonical form of a policy document; ``PolicyDocumentInvalid`` (a ``ValidationError``) naming every
    problem's path otherwise. Never raises anything else, whatever ``doc`` is."""
    checker = _Checker()
    out: dict[str, Any] = {}
    obj = checker.mapping(doc, "(document)", DOCUMENT_KEYS)
    if obj is not None:
        applies_to = _applies_to(checker, obj.get("applies_to"))
        if applies_to:
            out["applies_to"] = applies_to
        for stage in STAGES:
            rules = _rules(checker, obj.get(stage), stage)
            if rules:
                out[stage] = rules
        if obj.get("unmask_output") is not None:
            if isinstance(obj["unmask_output"], bool):
                out["unmask_output"] = obj["unmask_output"]
            else:
                checker.problem("unmask_output", "must be true or false")
        if obj.get("residency") is not None:
            residency = _residency(checker, obj["residency"])
            if residency:
                out["residency"] = residency
        if obj.get("payload_logging") is not None:
            level = PAYLOAD_OFF if obj["payload_logging"] is False else obj["payload_logging"]  # YAML: off is False
            if isinstance(level, str) and level in PAYLOAD_LOGGING:
                out["payload_logging"] = level
            else:
                checker.problem("payload_logging", f"must be one of {', '.join(PAYLOAD_LOGGING)}")
    if checker.problems:
        raise PolicyDocumentInvalid(checker.problems)
    return out


def _applies_to(checker: _Checker, value: Any) -> dict[str, list[str]]:
    if value is None:
        return {}
    obj = checker.mapping(value, "applies_to", APPLIES_TO)
    if obj is None:
        return {}
    out = {}
    for dimension, allowed in APPLIES_TO_VALUES.items():
        if obj.get(dimension) is not None:
            names = checker.names(obj[dimension], f"applies_to.{dimension}", allowed)
            if names:
                out[dimension] = names
    return out


def _rules(checker: _Checker, value: Any, stage: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        checker.problem(stage, "must be a list of rules, e.g. [{detector: email, action: mask}]")
        return []
    rules: dict[str, dict[str, Any]] = {}
    for i, raw in enumerate(value):
        path = f"{stage}[{i}]"
        rule = _rule(checker, raw, path)
        if rule is None:
            continue
        if rule["detector"] in rules:
            checker.problem(f"{path}.detector", f"{rule['detector']} has a rule already in {stage}: one per detector")
            continue
        rules[rule["detector"]] = rule
    return sorted(rules.values(), key=lambda r: _DETECTOR_ORDER[r["detector"]])


def _rule(checker: _Checker, raw: Any, path: str) -> dict[str, Any] | None:
    obj = checker.mapping(raw, path, RULE_KEYS)
    if obj is None:
        return None
    before = len(checker.problems)
    detector, action = obj.get("detector"), obj.get("action")
    info = DETECTORS.get(detector) if isinstance(detector, str) else None
    if info is None:
        checker.problem(f"{path}.detector", "is required" if detector is None else
                        f"unknown detector {detector!r} (known: {', '.join(DETECTORS)})")
    if not isinstance(action, str) or action not in ACTIONS:
        checker.problem(f"{path}.action", "is required" if action is None else
                        f"{action!r} is not an action (known: {', '.join(ACTIONS)})")
    elif info is not None and action not in info.actions:
        checker.problem(f"{path}.action", f"{action!r} is not allowed for {info.name} "
                                          f"(allowed: {', '.join(info.actions)})")
    rule: dict[str, Any] = {"detector": detector, "action": action}
    if info is None:
        return None
    if obj.get("threshold") is not None:
        if info.kind != "injection":
            checker.problem(f"{path}.threshold", "only prompt_injection takes a threshold")
        elif (threshold := _threshold(obj["threshold"])) is None:
            checker.problem(f"{path}.threshold", "must be a number from 0 to 1 (0.7: fire at a score of 0.7 or more)")
        else:
            rule["threshold"] = threshold
    if info.kind == "deny":
        terms = _terms(checker, obj.get("terms"), f"{path}.terms")
        if terms:
            rule["terms"] = terms
    elif "terms" in obj:
        checker.problem(f"{path}.terms", "only deny_list takes terms")
    return rule if len(checker.problems) == before else None


def _threshold(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:  # NaN fails too
        return None
    return float(value)


def _terms(checker: _Checker, value: Any, path: str) -> list[str]:
    if value is None:
        checker.problem(path, "is required for deny_list: the terms to refuse, e.g. [\"project falcon\"]")
        return []
    if not isinstance(value, list) or any(not isinstance(t, str) for t in value):
        checker.problem(path, "must be a list of terms")
        return []
    if len(value) > MAX_TERMS:
        checker.problem(path, f"lists at most {MAX_TERMS} terms")
        return []
    terms = [t.strip() for t in value]
    if not terms or any(not t for t in terms):
        checker.problem(path, "needs at least one term, none empty")
        return []
    if any(len(t) > MAX_TERM_LENGTH for t in terms):
        checker.problem(path, f"a term is at most {MAX_TERM_LENGTH} characters")
        return []
    if any("\x00" in t for t in terms):
        checker.problem(path, "a term cannot contain a NUL character")
        return []
    first: dict[str, str] = {}
    for term in terms:  # matched case-insensitively, so "Falcon" repeats "falcon"
        first.setdefault(term.casefold(), term)
    return list(first.values())


def _residency(checker: _Checker, value: Any) -> dict[str, list[str]]:
    obj = checker.mapping(value, "residency", RESIDENCY_KEYS)
    if obj is None:
        return {}
    regions = obj.get("regions")
    if not isinstance(regions, list) or not regions or any(not isinstance(r, str) for r in regions):
        checker.problem("residency.regions", "must list the endpoint regions this traffic may reach, e.g. [eu] "
                                             "(leave residency out for no restriction)")
        return {}
    if len(regions) > MAX_NAMES:
        checker.problem("residency.regions", f"names at most {MAX_NAMES}")
        return {}
    names = [r.strip().lower() for r in regions]
    bad = [r for r in names if len(r) > REGION_MAX_LENGTH or not REGION_NAME.match(r)]
    if bad:
        checker.problem("residency.regions", f"{', '.join(repr(r) for r in bad[:5])}: a region is a name such as "
                                             "eu, us-ca or eu-west-1 (lower-case letters, digits, dashes)")
        return {}
    return {"regions": sorted(set(names))}


# --- reading the document -------------------------------------------------------------------------

def spec_of(name: str, version: int, document: dict, *, description: str = "") -> PolicySpec:
    """The gateway's form of a policy version. ``document`` must be canonical (as stored): not checked again."""
    applies_to = document.get("applies_to", {})
    return PolicySpec(
        name=name, version=version, description=description,
        **{dimension: frozenset(applies_to.get(dimension, ())) for dimension in APPLIES_TO},
        input=tuple(_rule_spec(r) for r in document.get("input", ())),
        output=tuple(_rule_spec(r) for r in document.get("output", ())),
        unmask_output=document.get("unmask_output"),
        residency=frozenset(document.get("residency", {}).get("regions", ())),
        payload_logging=document.get("payload_logging"),
    )


def _rule_spec(rule: dict[str, Any]) -> RuleSpec:
    return RuleSpec(detector=rule["detector"], action=rule["action"], threshold=rule.get("threshold"),
                    terms=tuple(rule.get("terms", ())))


def applies_to_text(document: dict) -> str:
    """What a policy applies to, as a person reads it: ``aliases fast-chat; regions eu`` or ``every call``."""
    applies_to = document.get("applies_to", {})
    parts = [f"{dimension} {', '.join(applies_to[dimension])}" for dimension in APPLIES_TO if applies_to.get(dimension)]
    return "; ".join(parts) or "every call"


def rules_text(document: dict, stage: str) -> str:
    """A stage's rules in one line: ``email mask, payment_card block``; ``—`` when none."""
    return ", ".join(f"{r['detector']} {r['action']}" for r in document.get(stage, ())) or "—"


def to_yaml(document: dict) -> str:
    """The document as YAML (the page's text area, the diff between versions)."""
    if not document:
        return ""
    try:
        document = canonical(document)  # its keys in the documented order again (PostgreSQL's jsonb sorts them)
    except PolicyDocumentInvalid:
        pass  # a stored document is canonical; shown as it is if not
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)


def from_yaml(text: str) -> Any:
    """Parse a document typed as YAML (empty: the empty document); ``PolicyDocumentInvalid`` if it is not YAML."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(document)"
        raise PolicyDocumentInvalid([(where, f"not valid YAML: {getattr(exc, 'problem', None) or exc}")]) from None
    return {} if doc is None else doc
