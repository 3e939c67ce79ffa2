"""Guardrail policies as plain data: the detector catalogue, the actions, and a policy as the gateway reads it.

The registry stores policies (``registry.models.policies``) and validates them against this catalogue;
the gateway's snapshot holds them as ``PolicySpec`` and ``guardrails`` runs them. Nothing here does I/O
or imports Django, so the gateway, the registry and the portal share one definition.

A policy applies to calls that match every dimension it names (any value within one dimension):
aliases, tenants (team slugs), classifications (the application's data classification) and regions
(the team's region). A policy naming none applies to every call. When several apply, they combine
in one documented order (``guardrails.effective``): for each detector the rule of the most specific
policy wins, except that a ``block`` in any applying policy blocks; residency regions intersect;
``unmask_output`` and ``payload_logging`` come from the most specific policy that sets them.
Specificity: a policy naming tenants is more specific than one naming aliases, then classifications,
then regions, then one naming nothing (compared as a tuple, so tenants and aliases outrank tenants
alone); equal ones are ordered by name.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field

# What a rule may do with what its detector found.
ALLOW, FLAG, MASK, BLOCK = "allow", "flag", "mask", "block"
ACTIONS = (ALLOW, FLAG, MASK, BLOCK)
STAGES = ("input", "output")

# Payload logging, per tenant: what of a call's text is kept with its usage event.
PAYLOAD_OFF, PAYLOAD_METADATA, PAYLOAD_REDACTED, PAYLOAD_FULL = "off", "metadata", "redacted", "full"
PAYLOAD_LOGGING = (PAYLOAD_OFF, PAYLOAD_METADATA, PAYLOAD_REDACTED, PAYLOAD_FULL)

APPLIES_TO = ("aliases", "tenants", "classifications", "regions")


def region_allowed(endpoint_region: str, allowed: frozenset[str] | set[str]) -> bool:
    """Whether an endpoint in ``endpoint_region`` may receive traffic a residency rule keeps in ``allowed``.

    Regions are matched by name, case-insensitively: a residency region admits the endpoint region of the
    same name and every one that starts with it and a dash: ``eu`` admits ``eu``, ``eu-west-1`` and
    ``eu-central-1`` (not ``europe-west1`` nor Azure's ``westeurope``: name those exactly); ``us`` admits
    ``us-east-1`` and ``us-ca``. An endpoint with no region is admitted by none (where its data goes is
    unknown), and an empty ``allowed`` admits nothing: no restriction is expressed by not asking
    (``PolicySpec.residency`` empty).
    """
    region = endpoint_region.strip().lower()
    if not region:
        return False
    return any(region == r or region.startswith(r + "-") for r in (a.lower() for a in allowed))


@dataclass(frozen=True, slots=True)
class DetectorInfo:
    """One detector: its name in policies, what it finds, its placeholder type, the actions it allows, and
    the module it needs (``requires``; None: always available)."""

    name: str
    kind: str  # pii | secret | injection | deny
    label: str
    placeholder: str  # masked values read <PLACEHOLDER_1>, <PLACEHOLDER_2>, ...
    actions: tuple[str, ...] = ACTIONS
    requires: str | None = None

    @property
    def available(self) -> bool:
        return self.requires is None or importlib.util.find_spec(self.requires) is not None


_NO_MASK = (ALLOW, FLAG, BLOCK)

DETECTORS: dict[str, DetectorInfo] = {d.name: d for d in (
    DetectorInfo("email", "pii", "E-mail addresses", "EMAIL"),
    DetectorInfo("phone", "pii", "Phone numbers", "PHONE"),
    DetectorInfo("payment_card", "pii", "Payment card numbers (Luhn-checked)", "CARD"),
    DetectorInfo("national_id", "pii", "National ids (US SSN and common EU ids, checksum-checked)", "NATIONAL_ID"),
    DetectorInfo("iban", "pii", "IBANs (checksum-checked)", "IBAN"),
    DetectorInfo("ip_address", "pii", "IP addresses (v4 and v6)", "IP"),
    DetectorInfo("person", "pii", "Names of people (NLP; needs Presidio)", "PERSON", requires="presidio_analyzer"),
    DetectorInfo("location", "pii", "Street addresses and places (NLP; needs Presidio)", "LOCATION",
                 requires="presidio_analyzer"),
    DetectorInfo("api_key", "secret", "Cloud and vendor API keys and tokens", "API_KEY"),
    DetectorInfo("private_key", "secret", "Private keys (PEM blocks)", "PRIVATE_KEY"),
    DetectorInfo("connection_password", "secret", "Passwords in connection strings and URLs", "PASSWORD"),
    DetectorInfo("jwt", "secret", "JSON Web Tokens", "JWT"),
    DetectorInfo("prompt_injection", "injection", "Prompt-injection and jailbreak patterns (scored)", "INJECTION",
                 actions=_NO_MASK),
    DetectorInfo("deny_list", "deny", "Deny-listed terms of the policy", "DENIED"),
)}

DEFAULT_INJECTION_THRESHOLD = 0.5


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One rule of one stage: run ``detector``, then ``action``.

    ``threshold`` is used by scored detectors (prompt_injection: a score in [0, 1] at or above it fires);
    ``terms`` by deny_list (matched case-insensitively, on word boundaries).
    """

    detector: str
    action: str
    threshold: float | None = None
    terms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """One policy, one version of it, as the gateway's snapshot holds it."""

    name: str
    version: int
    aliases: frozenset[str] = frozenset()
    tenants: frozenset[str] = frozenset()  # team slugs
    classifications: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()  # the team's region (aiplatform.roles.Region)
    input: tuple[RuleSpec, ...] = ()
    output: tuple[RuleSpec, ...] = ()
    unmask_output: bool | None = None  # None: not set by this policy
    residency: frozenset[str] = frozenset()  # endpoint regions this traffic may reach; empty: no restriction
    payload_logging: str | None = None  # one of PAYLOAD_LOGGING; None: not set by this policy
    description: str = ""
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    def applies(self, *, alias: str, tenant: str, classification: str, region: str) -> bool:
        return ((not self.aliases or alias in self.aliases) and (not self.tenants or tenant in self.tenants)
                and (not self.classifications or classification in self.classifications)
                and (not self.regions or region in self.regions))

    @property
    def specificity(self) -> tuple[bool, bool, bool, bool]:
        """Compared as a tuple: naming tenants outranks naming aliases, then classifications, then regions."""
        return (bool(self.tenants), bool(self.aliases), bool(self.classifications), bool(self.regions))
