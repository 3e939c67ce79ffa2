"""Personal data found by pattern and checksum: e-mail, phone numbers, payment cards, IBANs, IP addresses.

Choices (the labelled set in ``tests/guardrails/prompts`` measures them):

- e-mail: any syntactically plausible address, ``user@example.com`` included (masking a documentation
  address is harmless; it is blocking that must stay rare). ``git@github.com:org/repo`` is an SSH remote,
  not a mailbox, and is skipped.
- phone: ``phonenumbers`` validates, but its matcher costs ~0.5 ms per number found (42 ms on a 7 kB
  prompt), so a cheap regex proposes candidates and only those are parsed (region "US"; any region with
  a leading ``+``). Bare digit runs without separators count only after a phone word ("call", "tel",
  ...); after an id word ("order", "invoice", "#", ...) a candidate is skipped, so order numbers, years,
  versions and dates (invalid as numbers anyway) do not match.
- payment_card: 13-19 digits, plain or grouped 4-4-4-4(-3) / 4-6-5 / 4-6-4 with spaces or dashes, first
  digit 2-6 (the card networks' ranges), Luhn-valid (``stdnum.luhn``).
- iban: ``stdnum.iban`` (mod 97 and the country's BBAN structure; not the national account checks, which
  even the standard's Belgian example fails), with or without spaces; the length comes from the country's
  entry in stdnum's IBAN registry, so trailing words are not swallowed.
- ip_address: IPv4 and IPv6 (``ipaddress``); loopback (127.0.0.0/8, ::1) and unspecified / "this
  network" addresses (0.0.0.0/8, ::) are not reported: they name no host and fill every config file.
  Private and documentation ranges are reported (they map internal networks; masking is cheap).
  Four-part numbers after "version", "v", "release", "build" are versions, not addresses.
"""

from __future__ import annotations

import functools
import ipaddress
import re

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum import luhn, numdb

from .base import PatternDetector, PatternRule, lead, tail

_A = re.ASCII

# --- e-mail -----------------------------------------------------------------------------------------------

_AT = re.compile("@")
_LOCAL = re.compile(r"[A-Za-z0-9._%+-]{1,64}", _A)  # matched on the reversed 65 characters before '@'
_LOCAL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-")
_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9-])", _A)


def _email(m: re.Match[str]) -> tuple[int, int, str] | None:
    """Each '@' (a literal, found at C speed), grown to the local part before and the domain after."""
    text, at = m.string, m.start()
    local = _LOCAL.match(text[max(0, at - 65):at][::-1])
    if not local:
        return None
    start = at - local.end()
    if start > 0 and text[start - 1] in _LOCAL_CHARS:
        return None  # a run longer than a local part may be
    domain = _DOMAIN.match(text, at + 1, at + 320)
    if not domain:
        return None
    end = domain.end()
    if text[start] == "." or text[at - 1] == ".":
        return None
    if text.startswith("git@", start) and end < len(text) and text[end] == ":":
        return None
    return start, end, "email"


EMAIL = PatternDetector("email", [PatternRule(_AT, _email)], [
    # reversed: domain characters, '@', local part; or a trailing run that could become a local part
    tail(r"[A-Za-z0-9.-]{0,253}@[A-Za-z0-9._%+-]{1,64}", 330),
    tail(r"[A-Za-z0-9._%+-]{1,64}", 64),
])

# --- phone ------------------------------------------------------------------------------------------------

# digit groups joined by one separator each (" ", ".", "-", ") ", " ("), so a sentence's ". " ends a number
_PHONE = re.compile(
    lead("[0-9+(]", "[0-9A-Za-z_+#$/.@=(-]") + r"(?=[0-9 ().+-]{6})"  # a start, and room for 7 characters
    r"(?:(?<=\+) ?(?=[0-9])|(?<=\()(?=[0-9])|(?<=[0-9]))"  # what the first character was
    r"[0-9]{0,15}(?:(?:[ .-]|\) ?| ?\()[0-9]{1,12}){0,6}\)?(?![0-9A-Za-z_]|[.-][0-9])", _A)
_GROUPS = re.compile(r"[0-9]+", _A)
_PHONE_WORDS = ("phone", "tel", "call", "mobile", "cell", "fax", "whatsapp", "sms", "text me", "ring",
                "dial", "contact", "reach me", "telefon", "téléphone", "handy", "móvil", "numero")
_PHONE_CONTEXT = re.compile("|".join(re.escape(w) for w in _PHONE_WORDS))
_ID_CONTEXT = re.compile(
    r"(?:order|invoice|ticket|ref|reference|tracking|case|account|acct|customer|id|no\.?|number|sku|serial"
    r"|build|version|release|item|po|batch|#)\s?(?:id|no\.?|number|#)?\s?[:#=]?\s?$")


@functools.lru_cache(maxsize=4096)
def _phone_region(candidate: str) -> str | None:
    """The region of a valid phone number ("" when it has none), None when ``candidate`` is not one.

    Cached: parsing and validating cost ~60 µs a candidate and conversations repeat their numbers (every turn
    resends the history); the cache is bounded and holds only strings a request already held.
    """
    groups = _GROUPS.findall(candidate)
    if not 7 <= sum(len(g) for g in groups) <= 15 or sum(len(g) == 1 for g in groups) > 1:
        return None  # too short or long for E.164, or "1 2 3 4 5 6 7": a list of numbers
    try:
        number = phonenumbers.parse(candidate, "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.region_code_for_number(number) or ""


def _phone(m: re.Match[str]) -> tuple[int, int, str] | None:
    text, start, end = m.string, m.start(), m.end()
    candidate = m.group()
    if len(candidate) < 7 or (start and text[start - 1] == ":" and candidate[0] != "+"):
        return None  # after ':' only "tel:+1...": not times, ports, or "id:4155552671"
    if candidate.endswith(")") and "(" not in candidate:
        candidate, end = candidate[:-1], end - 1
    before = text[max(0, start - 32):start].lower()
    phone_context = _PHONE_CONTEXT.search(before) is not None
    if not phone_context:
        if _ID_CONTEXT.search(before):
            return None
        if candidate[0] != "+" and candidate.isdigit():
            return None
    region = _phone_region(candidate)
    for _ in range(3):
        if region is not None:
            break
        # "415 555 2671 2 lines": retry without the last group (a few times)
        cut = max(candidate.rfind(" "), candidate.rfind("-"), candidate.rfind("."))
        if cut < 7:
            return None
        candidate = candidate[:cut].rstrip(" .-(")
        region = _phone_region(candidate)
    if region is None:
        return None
    end = start + len(candidate)
    return start, end, f"phone_{region.lower()}" if region else "phone"


PHONE = PatternDetector("phone", [PatternRule(_PHONE, _phone)], [
    tail(r"[0-9 ().+-]{1,28}", 28),
    # a bare number after a phone word: hold the word too, the number only counts with it
    tail(r"[0-9]{1,15}[\s:.,-]{0,4}.{0,30}?(?:" + "|".join(re.escape(w[::-1]) for w in _PHONE_WORDS) + ")",
         64, re.IGNORECASE | re.DOTALL),
])

# --- payment cards ----------------------------------------------------------------------------------------

_CARD = re.compile(
    lead("[2-6]", "[0-9A-Za-z_-]") + r"(?:[0-9]{12,18}"
    r"|[0-9]{3}([ -])[0-9]{4}\1[0-9]{4}\1[0-9]{4}(?:\1[0-9]{3})?"
    r"|[0-9]{3}([ -])[0-9]{6}\2[0-9]{4,5})(?![0-9A-Za-z_])", _A)


def _card(m: re.Match[str]) -> tuple[int, int, str] | None:
    digits = m.group().replace(" ", "").replace("-", "")
    if digits[0] not in "23456" or len(set(digits)) == 1 or not luhn.is_valid(digits):
        return None
    return m.start(), m.end(), _card_network(digits)


def _card_network(digits: str) -> str:
    if digits[0] == "4":
        return "visa"
    if digits[:2] in ("34", "37"):
        return "amex"
    if "51" <= digits[:2] <= "55" or "2221" <= digits[:4] <= "2720":
        return "mastercard"
    if digits.startswith(("6011", "65", "64")):
        return "discover"
    return "card"


PAYMENT_CARD = PatternDetector("payment_card", [PatternRule(_CARD, _card)], [tail(r"[0-9 -]{1,23}", 23)])

# --- IBAN -------------------------------------------------------------------------------------------------

_IBAN = re.compile(lead("[A-Z]", "[A-Za-z0-9]") + r"[A-Z][0-9]{2}(?: ?[A-Z0-9]){11,34}(?![a-z0-9])", _A)
_IBAN_DB = numdb.get("iban")
_BBAN_PART = re.compile(r"([0-9]+)!")
_iban_lengths: dict[str, int] = {}


def _iban_length(country: str) -> int:
    """The IBAN length of ``country`` from stdnum's registry (0: not an IBAN country)."""
    if country not in _iban_lengths:
        info = _IBAN_DB.info(country)
        structure = info[0][1].get("bban", "") if info else ""
        parts = _BBAN_PART.findall(structure)
        _iban_lengths[country] = 4 + sum(int(p) for p in parts) if parts else 0
    return _iban_lengths[country]


_iban_valid = functools.lru_cache(maxsize=4096)(
    lambda compact: stdnum_iban.is_valid(compact, check_country=False))  # as phones: repeated in a conversation


def _iban(m: re.Match[str]) -> tuple[int, int, str] | None:
    raw = m.group()
    length = _iban_length(raw[:2])
    compact = raw.replace(" ", "")
    if not length or len(compact) < length or not _iban_valid(compact[:length]):
        return None
    end, kept = m.start(), 0
    while kept < length:
        if raw[end - m.start()] != " ":
            kept += 1
        end += 1
    return m.start(), end, f"iban_{raw[:2].lower()}"


IBAN = PatternDetector("iban", [PatternRule(_IBAN, _iban)], [tail(r"[A-Z0-9 ]{1,42}", 42)])

# --- IP addresses -----------------------------------------------------------------------------------------

_IPV4 = re.compile(lead("[0-9]", "[0-9A-Za-z_.]") + r"[0-9]{0,2}\.(?:[0-9]{1,3}\.){2}[0-9]{1,3}"
                   r"(?![0-9A-Za-z_]|\.[0-9])", _A)
# IPv6: a compressed address has "::" (a literal: found at C speed), a full one eight groups (its second
# group starts at a ':'); both grow outwards from there, and where they start is checked after.
_IPV6_COMPRESSED = re.compile(r"::")
_IPV6_FULL = re.compile(r":[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){6}(?![0-9A-Za-z_:])", _A)
_HEX_BEFORE = re.compile(r"[0-9A-Fa-f:]{0,34}", _A)  # on the reversed characters before the anchor
_HEX_AFTER = re.compile(r"[0-9A-Fa-f:.]{0,41}", _A)
_IPV6_EDGE = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_:.%")
_VERSION_CONTEXT = re.compile(r"(?:version|ver\.?|release|build|firmware|rev|v)\s?$")


def _reported(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if address.is_loopback or address.is_unspecified:
        return False
    return not (address.version == 4 and address.packed[0] == 0)


def _ipv4(m: re.Match[str]) -> tuple[int, int, str] | None:
    try:
        address = ipaddress.IPv4Address(m.group())
    except ValueError:
        return None
    if not _reported(address):
        return None
    if _VERSION_CONTEXT.search(m.string[max(0, m.start() - 10):m.start()].lower()):
        return None
    return m.start(), m.end(), "ipv4"


def _ipv6(m: re.Match[str]) -> tuple[int, int, str] | None:
    text = m.string
    before = _HEX_BEFORE.match(text[max(0, m.start() - 34):m.start()][::-1])
    start = m.start() - (before.end() if before else 0)
    end = _HEX_AFTER.match(text, m.end(), m.end() + 41).end()
    if (start and text[start - 1] in _IPV6_EDGE) or (end < len(text) and (text[end].isalnum() or text[end] == "_")):
        return None
    candidate = text[start:end].rstrip(".")
    if candidate.count(":") < 2 or not any(c.isdigit() for c in candidate):
        return None
    if sum(c not in ":." for c in candidate) < 4:
        return None
    try:
        address = ipaddress.IPv6Address(candidate)
    except ValueError:
        return None
    if not _reported(address):
        return None
    return start, start + len(candidate), "ipv6"


IP_ADDRESS = PatternDetector("ip_address", [
    PatternRule(_IPV4, _ipv4, needles=(".",)),
    PatternRule(_IPV6_COMPRESSED, _ipv6),
    PatternRule(_IPV6_FULL, _ipv6, needles=(":",)),
], [tail(r"[0-9A-Fa-f:.]{1,45}", 45)])
