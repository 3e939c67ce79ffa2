"""The gateway's OpenAPI document (gateway/openapi.yaml) is valid OpenAPI 3.1, documents exactly what
gateway.asgi routes (method by method), and the API docs page offers it beside the portal's."""

from __future__ import annotations

import re
from urllib.parse import unquote

import jsonschema
import pytest
from drf_spectacular.validation import validate_schema

from gateway import asgi, openapi

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def routed() -> dict[str, set[str]]:
    """Every path the gateway serves, ids as ``{}``, with its methods."""
    paths = {path: set(methods) for path, methods in asgi.ROUTES.items()}
    for prefix, methods in asgi.ID_ROUTES.items():
        paths[prefix + "{}"] = set(methods)
    for (prefix, sub), methods in asgi.ID_SUBROUTES.items():
        paths[f"{prefix}{{}}/{sub}"] = set(methods)
    return paths


def documented() -> dict[str, set[str]]:
    return {re.sub(r"\{[^}]+\}", "{}", path): {m.upper() for m in item if m in HTTP_METHODS}
            for path, item in openapi.document()["paths"].items()}


def refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def resolve(document: dict, ref: str):
    node = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_the_document_is_valid_openapi_3_1():
    document = openapi.document()
    assert document["openapi"].startswith("3.1")
    validate_schema(document)  # the OpenAPI 3.1 JSON schema drf-spectacular ships


@pytest.mark.parametrize("name", sorted(openapi.document()["components"]["schemas"]))
def test_every_schema_is_a_valid_json_schema(name):
    jsonschema.Draft202012Validator.check_schema(openapi.document()["components"]["schemas"][name])


def test_every_reference_resolves():
    document = openapi.document()
    for ref in set(refs(document)):
        assert ref.startswith("#/"), ref
        resolve(document, ref)  # KeyError names the broken one


def test_every_routed_path_is_documented():
    missing = {path: methods - documented().get(path, set()) for path, methods in routed().items()}
    assert {path: methods for path, methods in missing.items() if methods} == {}


def test_nothing_documented_is_unrouted():
    extra = {path: methods - routed().get(path, set()) for path, methods in documented().items()}
    assert {path: methods for path, methods in extra.items() if methods} == {}


def test_every_operation_documents_its_errors_in_the_callers_shape():
    for path, item in openapi.document()["paths"].items():
        shape = "Anthropic" if path.startswith("/v1/messages") else "OpenAI"
        for method in HTTP_METHODS & set(item):
            default = item[method]["responses"]["default"]["$ref"]
            assert default.rsplit("/", 1)[-1].startswith(shape), (method, path)


def test_both_ways_of_sending_the_key_are_described():
    document = openapi.document()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert (schemes["apiKeyHeader"]["in"], schemes["apiKeyHeader"]["name"]) == ("header", "x-api-key")
    assert document["security"] == [{"bearerAuth": []}, {"apiKeyHeader": []}]


def test_the_schema_url_serves_the_document_as_json(client):
    response = client.get("/api/gateway/schema/")
    assert response.status_code == 200
    assert response.json() == openapi.document()


@pytest.mark.django_db
def test_the_docs_page_offers_the_gateway_document_in_its_spec_picker(client):
    page = client.get("/api/docs/").content.decode()
    assert f'{{url: "/api/gateway/schema/", name: "{openapi.NAME}"}}' in page
    assert 'layout: "StandaloneLayout"' in page  # the layout with the top bar, where the picker is


def test_the_gateway_docs_url_opens_the_docs_page_on_that_document(client):
    response = client.get("/api/gateway/docs/")
    assert response.status_code == 302
    path, _, query = response["location"].partition("?urls.primaryName=")
    assert path == "/api/docs/"
    assert unquote(query) == openapi.NAME  # percent-encoded: Swagger UI does not read "+" as a space
    assert "+" not in query
