"""Prompt templates: ``Summarise {{ text }} in {{ n }} bullets`` with typed variables.

Parsing is Jinja2's (in its sandbox), but a template may hold only text and ``{{ variable }}`` slots — no
tags, filters, attribute access or expressions — so a template cannot loop, call or grow its output beyond
its values, and what a template needs is exactly the names in its slots. Those names must be declared
variables (refused at save time otherwise). Values are inserted as text and never parsed again: a value
holding ``{{ secret }}`` or ``{% for %}`` is rendered literally.

Variables: a name (``[a-z_][a-z0-9_]*``), a type (string, integer, number, boolean), required or not, and a
default (of that type) used when a caller leaves an optional one out. A call's values must be a JSON object
with no unknown names, every required name, and each value of its type; errors name the variable.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from django.core.exceptions import ValidationError
from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

TYPES = ("string", "integer", "number", "boolean")
NAME = re.compile(r"^[a-z_][a-z0-9_]{0,39}$")
MAX_VARIABLES = 50
MAX_RENDERED = 400_000  # characters of system prompt and message together

_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


@dataclass(frozen=True)
class Variable:
    name: str
    type: str = "string"
    required: bool = True
    default: Any = None
    description: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class VariableError(Exception):
    """A call's variables do not fit the version: ``name`` is the variable at fault (or "" for the whole)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


def _of_type(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "integer":
        return isinstance(value, int)
    return isinstance(value, int | float) and math.isfinite(value)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), type(value).__name__)


def parse_variables(raw: Any) -> tuple[Variable, ...]:
    """The declared variables, or a ``ValidationError`` on ``variables`` naming the problem."""
    if not isinstance(raw, list):
        raise ValidationError({"variables": "A list of variables."})
    if len(raw) > MAX_VARIABLES:
        raise ValidationError({"variables": f"At most {MAX_VARIABLES} variables."})
    found: dict[str, Variable] = {}
    for item in raw:
        if not isinstance(item, Mapping):
            raise ValidationError({"variables": "Each variable is an object with a name and a type."})
        unknown = set(item) - {"name", "type", "required", "default", "description"}
        if unknown:
            raise ValidationError({"variables": f"Unknown field {sorted(unknown)[0]!r} of a variable."})
        name, kind = item.get("name"), item.get("type", "string")
        if not isinstance(name, str) or not NAME.match(name):
            raise ValidationError({"variables": f"{name!r} is not a variable name: lower-case letters, digits and "
                                                "underscores, starting with a letter or underscore."})
        if name in found:
            raise ValidationError({"variables": f"{name!r} is declared twice."})
        if kind not in TYPES:
            raise ValidationError({"variables": f"{name!r}: the type is one of {', '.join(TYPES)}."})
        required = item.get("required", True)
        if not isinstance(required, bool):
            raise ValidationError({"variables": f"{name!r}: required is true or false."})
        default = item.get("default")
        if default is not None and not _of_type(default, kind):
            raise ValidationError({"variables": f"{name!r}: the default is not a {kind}."})
        description = item.get("description", "")
        if not isinstance(description, str) or len(description) > 500:
            raise ValidationError({"variables": f"{name!r}: the description is text of at most 500 characters."})
        found[name] = Variable(name=name, type=kind, required=required and default is None, default=default,
                               description=description)
    return tuple(found.values())


def slots(source: str, *, field: str = "template") -> list[str]:
    """The variable names ``source`` uses, in order of first use; a ``ValidationError`` on ``field`` when it
    is not text and ``{{ name }}`` slots only."""
    try:
        tree = _ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise ValidationError({field: f"Line {exc.lineno}: {exc.message}"}) from None
    names: list[str] = []
    for node in tree.body:
        if not isinstance(node, nodes.Output):
            raise ValidationError({field: f"Line {node.lineno}: only {{{{ variable }}}} slots are allowed, "
                                          "not tags such as {% … %}."})
        for part in node.nodes:
            if isinstance(part, nodes.TemplateData):
                continue
            if not isinstance(part, nodes.Name):
                raise ValidationError({field: f"Line {part.lineno}: a slot holds one variable name, as "
                                              "{{ text }}: no filters, attributes or expressions."})
            if part.name not in names:
                names.append(part.name)
    return names


def check(*, template: str, system_prompt: str, variables: tuple[Variable, ...]) -> None:
    """Refuse a template or system prompt that uses a variable not declared."""
    declared = {v.name for v in variables}
    for field, source in (("template", template), ("system_prompt", system_prompt)):
        undefined = [name for name in slots(source, field=field) if name not in declared]
        if undefined:
            raise ValidationError({field: f"Uses undefined variable{'s' if len(undefined) > 1 else ''} "
                                          f"{', '.join(undefined)}: declare {'them' if len(undefined) > 1 else 'it'}"
                                          " or remove the slot."})


def bind(variables: tuple[Variable, ...], values: Any) -> dict[str, Any]:
    """The values to render with: the caller's, checked, plus the defaults of optional ones left out."""
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise VariableError("", f"'variables' must be an object, not {_type_name(values)}.")
    declared = {v.name: v for v in variables}
    extra = [name for name in values if name not in declared]
    if extra:
        raise VariableError(str(extra[0]), f"Unknown variable '{extra[0]}': this prompt takes "
                                           f"{', '.join(declared) or 'no variables'}.")
    bound: dict[str, Any] = {}
    for name, variable in declared.items():
        if name not in values or values[name] is None:
            if variable.default is not None:
                bound[name] = variable.default
            elif variable.required:
                raise VariableError(name, f"Missing variable '{name}' ({variable.type}).")
            else:
                bound[name] = ""
            continue
        if not _of_type(values[name], variable.type):
            raise VariableError(name, f"Variable '{name}' must be {'an' if variable.type == 'integer' else 'a'} "
                                      f"{variable.type}, not {_type_name(values[name])}.")
        bound[name] = values[name]
    return bound


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@lru_cache(maxsize=1024)
def _compiled(source: str) -> Template:
    # Compiling costs far more than rendering: a version's template is compiled once per process.
    return _ENV.from_string(source)


def render(source: str, bound: Mapping[str, Any]) -> str:
    """``source`` with each slot replaced by its value as text (values are never parsed as templates)."""
    return _compiled(source).render({name: _text(value) for name, value in bound.items()})


def render_messages(*, template: str, system_prompt: str, bound: Mapping[str, Any]) -> list[dict[str, str]]:
    """The chat messages a call of the version sends: its system prompt (if any) and the user message."""
    message = render(template, bound)
    system = render(system_prompt, bound) if system_prompt else ""
    if len(message) + len(system) > MAX_RENDERED:
        raise VariableError("", f"The rendered prompt is longer than {MAX_RENDERED} characters.")
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": message}]
