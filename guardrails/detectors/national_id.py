"""National identity numbers: the US SSN and the common EU ones, checked by ``python-stdnum``.

The label says which one (``us_ssn``, ``de_idnr``, ``fr_nir``, ``es_dni``, ``es_nie``, ``it_codice_fiscale``,
``nl_bsn``, ``pl_pesel``, ``se_personnummer``, ``uk_nino``). Ids whose shape is distinctive (SSN with
dashes, FR NIR with spaces, ES DNI/NIE with their letter, the Italian codice fiscale, a Swedish
personnummer with its dash, the UK NINO) count anywhere. Ids that are plain digit runs with a weak check
(DE Steuer-IdNr and PL PESEL: 11 digits; NL BSN and a bare SSN: 9; a bare NIR: 15) count only after a
word naming them ("SSN", "Steuer-ID", "BSN", "PESEL", ...) in the 48 characters before — otherwise one
order number in ten would be an id. ``123-45-6789``, the customary example, is not reported. The UK NINO
has no check digit; its letter rules (stdnum has no module for it) are applied.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from stdnum.de import idnr
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.it import codicefiscale
from stdnum.nl import bsn
from stdnum.pl import pesel
from stdnum.se import personnummer
from stdnum.us import ssn

from .base import Finding, PatternDetector, PatternRule, lead, non_overlapping, tail

_A = re.ASCII
_EDGE_L = "[0-9A-Za-z_-]"
_EDGE_R = r"(?![0-9A-Za-z_]|-[0-9])"

_CONTEXT_WORDS = {
    "us_ssn": ("ssn", "social security", "soc sec", "ss#", "ss #"),
    "de_idnr": ("steuer-id", "steuerid", "steuer id", "steuer-idnr", "idnr", "identifikationsnummer",
                "steueridentifikationsnummer", "tax id", "tin"),
    "fr_nir": ("nir", "sécurité sociale", "securite sociale", "sécu", "insee", "carte vitale",
               "social security"),
    "nl_bsn": ("bsn", "burgerservicenummer", "sofinummer", "sofi-nummer"),
    "pl_pesel": ("pesel",),
    "se_personnummer": ("personnummer", "personnr", "person number"),
}
_CONTEXT = {label: re.compile("|".join(re.escape(w) for w in words)) for label, words in _CONTEXT_WORDS.items()}
_ALL_CONTEXT_WORDS = sorted({w for words in _CONTEXT_WORDS.values() for w in words}, key=len, reverse=True)


def _in_context(m: re.Match[str], label: str) -> bool:
    before = m.string[max(0, m.start() - 48):m.start()].lower()
    return _CONTEXT[label].search(before) is not None


_SHAPES: list[str] = []  # every rule's shape, for the one candidate regex


def _rule(first: str, rest: str, label: str, is_valid: Callable[[str], bool], *, context: bool = False,
          needles: tuple[str, ...] = ()) -> PatternRule:
    def validate(m: re.Match[str]) -> tuple[int, int, str] | None:
        if context and not _in_context(m, label):
            return None
        value = m.group()
        try:
            valid = is_valid(value)
        except Exception:  # noqa: BLE001 - a validator's surprise must not reach the hot path
            valid = False
        return (m.start(), m.end(), label) if valid else None

    _SHAPES.append(f"(?<={first}){rest}")
    return PatternRule(re.compile(lead(first, _EDGE_L) + rest + _EDGE_R, _A), validate, needles=needles,
                       needles_lower=bool(needles))


def _ssn_ok(value: str) -> bool:
    digits = value.replace("-", "").replace(" ", "")
    return digits != "123456789" and ssn.is_valid(digits)


_NINO = re.compile(r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]", _A)
_NINO_NOT = ("BG", "GB", "NK", "KN", "TN", "NT", "ZZ")


def _nino_ok(value: str) -> bool:
    compact = value.replace(" ", "")
    return _NINO.fullmatch(compact) is not None and compact[:2] not in _NINO_NOT


def _compact_ok(is_valid: Callable[[str], bool]) -> Callable[[str], bool]:
    return lambda value: is_valid(value.replace(" ", "").replace(".", "").replace("-", ""))


def _words(label: str) -> tuple[str, ...]:
    return _CONTEXT_WORDS[label]


RULES = (
    _rule("[0-9]", "[0-9]{2}-[0-9]{2}-[0-9]{4}", "us_ssn", _ssn_ok),
    _rule("[0-9]", "[0-9]{2}(?: [0-9]{2} [0-9]{4}|[0-9]{6})", "us_ssn", _ssn_ok, context=True,
          needles=_words("us_ssn")),
    _rule("[0-9]", "[0-9] ?[0-9]{3} ?[0-9]{3} ?[0-9]{3}", "de_idnr", _compact_ok(idnr.is_valid), context=True,
          needles=_words("de_idnr")),
    _rule("[12]", " [0-9]{2} [0-9]{2} (?:[0-9]{2}|2[AB]) [0-9]{3} [0-9]{3} [0-9]{2}", "fr_nir",
          _compact_ok(nir.is_valid)),
    _rule("[12]", "[0-9]{4}(?:[0-9]{2}|2[AB])[0-9]{8}", "fr_nir", nir.is_valid, context=True,
          needles=_words("fr_nir")),
    _rule("[0-9]", "[0-9]{7}-?[A-Z]", "es_dni", _compact_ok(dni.is_valid)),
    _rule("[XYZ]", "-?[0-9]{7}-?[A-Z]", "es_nie", _compact_ok(nie.is_valid)),
    _rule("[A-Z]", "[A-Z]{5}[0-9LMNP-V]{2}[A-EHLMPR-T][0-9LMNP-V]{2}[A-Z][0-9LMNP-V]{3}[A-Z]", "it_codice_fiscale",
          codicefiscale.is_valid),
    _rule("[0-9]", r"[0-9]{3}\.?[0-9]{2}\.?[0-9]{3}", "nl_bsn", _compact_ok(bsn.is_valid), context=True,
          needles=_words("nl_bsn")),
    _rule("[0-9]", "[0-9]{10}", "pl_pesel", pesel.is_valid, context=True, needles=_words("pl_pesel")),
    _rule("[0-9]", "(?:[0-9]{7}|[0-9]{5})[-+][0-9]{4}", "se_personnummer", personnummer.is_valid),
    _rule("[0-9]", "(?:[0-9]{11}|[0-9]{9})", "se_personnummer", personnummer.is_valid, context=True,
          needles=_words("se_personnummer")),
    _rule("[A-Z]", "[A-Z] ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]", "uk_nino", _nino_ok),
)

# One pass finds where any id could start (a regex costs ~100 µs on a 2,000-token prompt whatever it looks
# for, so thirteen of them would cost 1.3 ms); each rule is then tried only there.
_CANDIDATE = re.compile(lead("[0-9A-Z]", _EDGE_L) + "(?:" + "|".join(_SHAPES) + ")" + _EDGE_R, _A)


class NationalIdDetector(PatternDetector):
    def find(self, text: str) -> list[Finding]:
        found: list[Finding] = []
        rules: list[PatternRule] | None = None
        for candidate in _CANDIDATE.finditer(text):
            if rules is None:
                lowered = text.lower()
                rules = [r for r in self.rules if not r.needles or any(n in lowered for n in r.needles)]
            for rule in rules:
                m = rule.regex.match(text, candidate.start())
                kept = rule.validate(m) if m else None
                if kept is not None:
                    found.append(Finding(self.name, kept[0], kept[1], 1.0, kept[2]))
                    break
        return non_overlapping(found)


NATIONAL_ID = NationalIdDetector("national_id", RULES, [
    tail(r"[0-9A-Z .+-]{1,24}", 24),
    # a digit run that only counts after a naming word: hold the word with it
    tail(r"[0-9 .-]{1,19}[\s:#=-]{0,4}.{0,40}?(?:" + "|".join(re.escape(w[::-1]) for w in _ALL_CONTEXT_WORDS)
         + ")", 80, re.IGNORECASE | re.DOTALL),
])
