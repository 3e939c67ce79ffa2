"""Secrets: vendor API keys, private keys, passwords in connection strings, JSON Web Tokens.

Each finding covers the secret itself (for ``AccountKey=...`` or ``aws_secret_access_key = ...`` the value,
not the name), labelled with its kind. Keys are matched by their vendors' documented prefixes and
lengths; prefixes that are also ordinary words or identifiers (``sk-``, ``SK``) must be followed by a
random-looking body (digits, upper and lower case), so ``sk-learn-compatible-estimator`` is not a key.

Passwords (``connection_password``) are those in a URL's user-info (``scheme://user:password@host``) and
the ``Password=`` / ``Pwd=`` field of ADO.NET, ODBC and JDBC connection strings (``;``-separated, or in a
``jdbc:``/query string). Keyword arguments in code (``connect(host=h, password=...)``) and unquoted values
that are expressions (``os.getenv("PGPASSWORD")``, ``PASSWORD``, ``None``) are not connection strings. Values that are placeholders are not passwords: empty, ``<...>``, ``{...}``,
``[...]``, ``${VAR}``, ``$VAR``, ``%VAR%``, ``{{ var }}``, masks (``****``, ``xxx``, ``...``), the same as the
user name (``postgres:postgres``, ``guest:guest``: a container's default, written in every tutorial),
and the usual template words (``password``, ``pass``, ``secret``, ``changeme``, ``your_password``,
``example``, ``redacted``, ``dummy``, ...). ``changeme`` is a placeholder by this rule: it is what
templates say, and a policy that blocked it would block every quick-start guide.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import string

from .base import PatternDetector, PatternRule, tail

_A = re.ASCII
_KEY_CHARS = "A-Za-z0-9_-"


def _random_looking(body: str) -> bool:
    return (sum(c.isdigit() for c in body) >= 2 and any(c.isupper() for c in body)
            and any(c.islower() for c in body))


def _key(prefix_re: str, body_re: str, label: str, needles: tuple[str, ...], *, random: bool = False,
         edge: str = _KEY_CHARS) -> PatternRule:
    # The prefix leads (a literal: re finds it at C speed); the character before it is checked after.
    regex = re.compile(rf"(?:{prefix_re})(?P<body>{body_re})(?![{edge}])", _A)
    edge_chars = frozenset(re.sub(r"[^_-]", "", edge) + string.ascii_letters + string.digits)

    def validate(m: re.Match[str]) -> tuple[int, int, str] | None:
        if m.start() and m.string[m.start() - 1] in edge_chars:
            return None
        if random and not _random_looking(m.group("body")):
            return None
        return m.start(), m.end(), label

    return PatternRule(regex, validate, needles=needles)


def _value(pattern: str, label: str, needles: tuple[str, ...]) -> PatternRule:
    """A secret that is the value after a name (``name = value``): the finding is the value."""
    regex = re.compile(pattern, _A | re.IGNORECASE)

    def validate(m: re.Match[str]) -> tuple[int, int, str] | None:
        return m.start("value"), m.end("value"), label

    return PatternRule(regex, validate, needles=needles, needles_lower=True)


API_KEY_RULES = (
    _key("AKIA|ASIA|ABIA|ACCA", "[A-Z0-9]{16}", "aws_access_key", ("AKIA", "ASIA", "ABIA", "ACCA")),
    _value(r"aws_?secret_?(?:access_?)?key[\"']?\s{0,3}[:=]\s{0,3}[\"']?(?P<value>[A-Za-z0-9/+]{40})"
           r"(?![A-Za-z0-9/+=])", "aws_secret_key", ("aws_secret", "awssecret")),
    _key("gh[pousr]_", "[A-Za-z0-9]{36,251}", "github_token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
    _key("github_pat_", "[A-Za-z0-9_]{60,255}", "github_token", ("github_pat_",)),
    _key("xox[baprs]-", "[A-Za-z0-9-]{10,250}", "slack_token", ("xox",)),
    _key("sk-ant-", "[A-Za-z0-9_-]{32,255}", "anthropic_key", ("sk-ant-",)),
    _key("sk-(?!ant-)(?:proj-|svcacct-|admin-)?", "[A-Za-z0-9_-]{20,255}", "openai_key", ("sk-",), random=True),
    _key("AIza", "[A-Za-z0-9_-]{35}", "google_api_key", ("AIza",)),
    _key("(?:sk|rk)_live_", "[A-Za-z0-9]{20,247}", "stripe_key", ("_live_",)),
    _key("glpat-", "[A-Za-z0-9_-]{20,64}", "gitlab_token", ("glpat-",)),
    _value(r"AccountKey\s{0,3}=\s{0,3}(?P<value>[A-Za-z0-9+/]{80,100}={0,2})(?![A-Za-z0-9+/=])",
           "azure_storage_key", ("accountkey",)),
    _key("npm_", "[A-Za-z0-9]{36}", "npm_token", ("npm_",)),
    _key("SK", "[0-9a-f]{32}", "twilio_api_key", ("SK",), random=False, edge="A-Za-z0-9"),
)

API_KEY = PatternDetector("api_key", API_KEY_RULES, [
    tail(r"[A-Za-z0-9_+/=-]{1,260}", 260),
    # the value after a key name: hold the name too, the value only counts with it
    tail(r"[A-Za-z0-9/+=]{0,100}[\"']?\s{0,3}[:=]\s{0,3}[\"']?(?:yek_?(?:ssecca_?)?terces_?swa|yektnuocca)",
         140, re.IGNORECASE),
])

# --- private keys -----------------------------------------------------------------------------------------

_PEM_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]{1,12} ){0,3}PRIVATE KEY(?: BLOCK)?-----", _A)
# base64 lines, headers ("Proc-Type: 4,ENCRYPTED"), literal "\n" (keys inside JSON); not the next "-----"
_PEM_BODY = re.compile(r"(?:[A-Za-z0-9+/=:,.\\ \t\r\n]|-(?!----))*", _A)
_PEM_END = re.compile(r"-----END (?:[A-Z0-9]{1,12} ){0,3}PRIVATE KEY(?: BLOCK)?-----", _A)


def _private_key(m: re.Match[str]) -> tuple[int, int, str] | None:
    text = m.string
    body = _PEM_BODY.match(text, m.end(), min(len(text), m.end() + 20_000))
    end = body.end() if body else m.end()
    end_line = _PEM_END.match(text, end)
    if end_line:
        end = end_line.end()
    else:
        body_text = text[m.end():end]
        if sum(c.isalnum() for c in body_text) < 32:
            return None  # a header alone ("what is a -----BEGIN PRIVATE KEY----- line?") is not a key
        end = m.end() + len(body_text.rstrip(" \t\r\n\\"))
    kind = m.group()[len("-----BEGIN "):-len("PRIVATE KEY-----")].strip().lower() or "pkcs8"
    return m.start(), end, f"private_key_{kind.replace(' ', '_')}"


class PrivateKeyDetector(PatternDetector):
    def hold_from(self, text: str) -> int:
        """Also hold an open block (a BEGIN with no END yet, its body reaching the end): more key is coming."""
        hold = super().hold_from(text)
        begin = text.rfind("-----BEGIN ")
        header = _PEM_BEGIN.match(text, begin) if begin != -1 else None
        if header and text.find("-----END", begin) == -1:
            body = _PEM_BODY.match(text, header.end())
            if body and body.end() == len(text):
                hold = min(hold, begin)
        return hold


PRIVATE_KEY = PrivateKeyDetector("private_key", [PatternRule(_PEM_BEGIN, _private_key, needles=("PRIVATE KEY",))], [
    tail(r"[A-Z -]{1,45}", 45),
])
# A BEGIN without an END counts once its body has begun (32 characters of key): a pasted key cut short.

# --- passwords in connection strings ----------------------------------------------------------------------

_PLACEHOLDER_WORDS = frozenset({
    "password", "passwd", "pass", "pwd", "pw", "secret", "changeme", "changeit", "change_me", "yourpassword",
    "your_password", "mypassword", "my_password", "dbpassword", "db_password", "example", "placeholder",
    "redacted", "hidden", "removed", "null", "none", "todo", "dummy", "fake", "sample", "xxx", "xxxx", "secretpassword",
    "your_password_here", "yourpasswordhere", "password_here", "passwordhere", "enter_password", "mysecretpassword",
    "userpassword", "user_password", "adminpassword", "admin_password", "pa55word", "foo", "bar", "foobar",
})
_TEMPLATE = re.compile(r"^(?:<.*>|\{.*\}|\[.*\]|\$.*|%.*%|\(.*\)|\*+|x+|\.+|_+|-+)$", re.IGNORECASE | re.DOTALL)


def is_placeholder(value: str, *, user: str = "") -> bool:
    """Whether a password field holds a placeholder rather than a password (see the module docstring)."""
    v = value.strip().strip("\"'")
    if not v or _TEMPLATE.match(v) or (user and v == user):
        return True
    folded = v.lower().replace("-", "_")
    return folded in _PLACEHOLDER_WORDS or folded.startswith(("your_", "<", "{{", "$")) or "{{" in v


# Anchored on "://" (a literal, found at C speed); the scheme before it is checked after.
_URL_PASSWORD = re.compile(
    # '#' and '?' in the password: not valid unencoded, but people paste them so
    r"://(?P<user>[^\s:/@?#\"'<>]{0,128}):(?P<value>[^\s/@\"'<>]{1,256})@(?=[A-Za-z0-9\[_-])", _A)
_SCHEME = re.compile(r"[A-Za-z0-9+.-]{0,30}[A-Za-z]", _A)  # matched on the reversed characters before "://"
_FIELD_PASSWORD = re.compile(
    r"(?:password|pwd)\s{0,3}=\s{0,3}"
    r"(?P<value>\{[^}\r\n]{1,256}\}|\"[^\"\r\n]{1,256}\"|'[^'\r\n]{1,256}'|[^;\s\"']{1,256})",
    _A | re.IGNORECASE | re.MULTILINE)
_CONNECTION_CONTEXT = re.compile(
    r"jdbc:|odbc|(?:^|[;?&\"'\s])(?:server|host|data source|database|initial catalog|uid|user id|user|username|"
    r"driver|port|dsn|provider|addr|address)\s{0,3}=", _A | re.IGNORECASE)
_KEYWORD_ARGUMENT = re.compile(r"[,(]\s{0,2}$")
_CODE_VALUE = re.compile(r".*\(|[A-Za-z_]\w*(?:\.\w+|\[.*\])+[,)]*$|[A-Z][A-Z0-9_]*[,)]*$|(?:None|null|nil)[,)]*$", re.ASCII)
_USER_FIELD = re.compile(r"(?:uid|user id|user|username)\s{0,3}=\s{0,3}([^;&\s\"']{1,128})", _A | re.IGNORECASE)


def _url_password(m: re.Match[str]) -> tuple[int, int, str] | None:
    if not _SCHEME.match(m.string[max(0, m.start() - 32):m.start()][::-1]):
        return None
    if is_placeholder(m.group("value"), user=m.group("user")):
        return None
    return m.start("value"), m.end("value"), "url_password"


def _field_password(m: re.Match[str]) -> tuple[int, int, str] | None:
    text = m.string
    if m.start() and text[m.start() - 1] not in ";?& \t\r\n\"'":
        return None  # db_password=, mypwd=: a name of one's own, not a connection string's field
    if _KEYWORD_ARGUMENT.search(text, max(0, m.start() - 3), m.start()):
        return None  # connect(host=h, password=...): code passing a value, not a connection string
    if m.group("value")[0] not in "\"'{" and _CODE_VALUE.match(m.group("value")):
        return None  # password=os.getenv(...), password=PASSWORD, password=None: an expression
    line_start = text.rfind("\n", max(0, m.start() - 300), m.start()) + 1 or max(0, m.start() - 300)
    line_end = text.find("\n", m.end(), m.end() + 300)
    line = text[line_start:line_end if line_end != -1 else m.end() + 300]
    if not _CONNECTION_CONTEXT.search(line) or not any(sep in line for sep in ";?&"):
        return None  # a connection string has other fields, separated by ';' (ADO, ODBC, JDBC) or '&'
    user = _USER_FIELD.search(line)
    value, user_name = m.group("value"), (user.group(1) if user else "")
    if value.startswith("{{"):
        return None  # {{ vault_db_password }}: a template (the value pattern stops at its first '}')
    if value.startswith("{") and value.endswith("}"):
        value = value[1:-1]  # ODBC quotes a value in braces: Pwd={p;ss}
    if is_placeholder(value, user=user_name):
        return None
    start, end = m.start("value"), m.end("value")
    if text[start] in "\"'{" and end - start > 2:
        start, end = start + 1, end - 1
    elif m.start() and text[m.start() - 1] in "?&" and "&" in text[start:end]:
        end = text.index("&", start, end)  # a query string: '&' ends the value
        if end == start:
            return None
    return start, end, "connection_string_password"


CONNECTION_PASSWORD = PatternDetector("connection_password", [
    PatternRule(_URL_PASSWORD, _url_password, needles=("://",)),
    PatternRule(_FIELD_PASSWORD, _field_password, needles=("password", "pwd"), needles_lower=True),
], [
    tail(r"[^\s\"'<>]{1,420}", 420, re.ASCII),
    tail(r"[^;&\s\"']{0,256}[\"'{]?\s{0,3}=\s{0,3}(?:drowssap|dwp)", 270, re.IGNORECASE),
])

# --- JSON Web Tokens --------------------------------------------------------------------------------------

_JWT = re.compile(
    r"(?<![A-Za-z0-9_.-])eyJ[A-Za-z0-9_-]{5,2000}\.[A-Za-z0-9_-]{2,8000}\.[A-Za-z0-9_-]{0,2000}(?![A-Za-z0-9_-])", _A)


def _jwt(m: re.Match[str]) -> tuple[int, int, str] | None:
    header = m.group().split(".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(decoded, dict) or "alg" not in decoded:
        return None
    return m.start(), m.end(), "jwt"


JWT = PatternDetector("jwt", [PatternRule(_JWT, _jwt, needles=("eyJ",))], [tail(r"[A-Za-z0-9_.-]{1,4000}", 4000)])
