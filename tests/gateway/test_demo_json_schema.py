"""The demo model answers ``response_format`` JSON that validates against the schema asked for."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal

import jsonschema
import orjson
import pytest
from pydantic import BaseModel, Field

from gateway.normal import ChatRequest, Message, ResponseFormat
from gateway.providers.base import UpstreamTarget
from gateway.providers.demo import ADAPTER as DEMO
from tests.gateway.streams import collect

TARGET = UpstreamTarget(provider_kind="demo", upstream_model="demo-1")


def ask(schema: dict, **kw) -> ChatRequest:
    fmt = ResponseFormat("json_schema", {"name": "answer", "schema": schema, "strict": True})
    return ChatRequest(model="demo-chat", messages=[Message("user", "Plan a trip to Oslo")], response_format=fmt, **kw)


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class Stop(BaseModel):
    city: str = Field(min_length=12)
    day: date
    nights: int = Field(ge=2, le=9)
    kind: Literal["hotel", "camping"]


class Traveller(BaseModel):
    email: str = Field(json_schema_extra={"format": "email"})
    favourite: Colour
    nickname: str | None = None


class Trip(BaseModel):
    title: str
    travellers: list[Traveller] = Field(min_length=2)
    stops: list[Stop]
    budget: float = Field(gt=100)
    lead: Traveller | None
    next_trip: Trip | None = None  # recursive: a $ref to the model itself


SCHEMAS = {
    "nested pydantic model ($defs, $ref, anyOf, enum, const, minItems, formats, bounds)": Trip.model_json_schema(),
    "additionalProperties false, required subset": {
        "type": "object", "additionalProperties": False, "required": ["a"],
        "properties": {"a": {"type": "string", "format": "uuid"}, "b": {"type": "integer"}},
    },
    "definitions (older generators), oneOf, const": {
        "definitions": {"Point": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"const": 3}},
                                  "required": ["x", "y"], "additionalProperties": False}},
        "type": "object", "required": ["where", "shape"],
        "properties": {"where": {"$ref": "#/definitions/Point"},
                       "shape": {"oneOf": [{"type": "string", "enum": ["circle"]}, {"type": "integer"}]}},
    },
    "array root with tuple items": {"type": "array", "prefixItems": [{"type": "boolean"}, {"type": "null"}],
                                    "minItems": 2},
    "allOf merged": {"allOf": [{"type": "object", "properties": {"a": {"type": "integer", "minimum": 500}},
                                "required": ["a"]},
                               {"properties": {"b": {"type": "string", "maxLength": 3}}, "required": ["b"]}]},
}


@pytest.mark.parametrize("schema", SCHEMAS.values(), ids=SCHEMAS.keys())
async def test_the_answer_validates_against_the_schema(schema):
    response = await DEMO.chat(ask(schema), TARGET)

    answer = orjson.loads(response.choices[0].message.content)
    jsonschema.validate(answer, schema, format_checker=jsonschema.FormatChecker())


async def test_a_pydantic_model_parses_the_answer_strictly_enough():
    response = await DEMO.chat(ask(Trip.model_json_schema()), TARGET)

    trip = Trip.model_validate_json(response.choices[0].message.content)
    assert len(trip.travellers) >= 2 and trip.budget > 100 and trip.stops[0].nights >= 2


async def test_the_streamed_answer_is_the_same_json():
    schema = Trip.model_json_schema()
    whole = await DEMO.chat(ask(schema), TARGET)
    chunks = await collect(DEMO.chat_stream(ask(schema), TARGET))

    streamed = "".join(c.content or "" for c in chunks)
    assert streamed == whole.choices[0].message.content
    jsonschema.validate(orjson.loads(streamed), schema)


async def test_json_object_is_a_json_object():
    fmt = ResponseFormat("json_object")
    response = await DEMO.chat(ChatRequest(model="demo-chat", messages=[Message("user", "hi")],
                                           response_format=fmt), TARGET)

    assert isinstance(orjson.loads(response.choices[0].message.content), dict)
