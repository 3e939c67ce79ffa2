"""The OpenAPI document of the ``/v1/`` surface: ``gateway/openapi.yaml``, kept by hand beside the routes.

drf-spectacular describes the portal's ``/api/`` from its views; the gateway is raw ASGI, so its document is
written, and ``tests/gateway/test_openapi_document.py`` holds it to ``gateway.asgi``'s routes. Django serves
it (``/api/gateway/schema/``) for the Swagger UI at ``/api/docs/``, whose spec picker lists both documents.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_GET

DOCUMENT = Path(__file__).with_name("openapi.yaml")
# Its name in the picker (``SPECTACULAR_SETTINGS["SWAGGER_UI_SETTINGS"]``); the top bar opens the one named in
# ``urls.primaryName``, so ``/api/gateway/docs/`` is the same page with this document open.
NAME = "Gateway API (/v1/)"
DOCS_URL = "/api/docs/?urls.primaryName=" + quote(NAME, safe="")  # %20, not +: Swagger UI does not read + as space


@functools.cache
def document() -> dict[str, Any]:
    """The document as data (read once per process: it changes only with a deploy)."""
    return yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))


@require_GET
def schema(request: HttpRequest) -> HttpResponse:
    """``GET /api/gateway/schema/``: the document as JSON (YAML anchors resolved, so any client reads it)."""
    return HttpResponse(json.dumps(document()), content_type="application/vnd.oai.openapi+json")


@require_GET
def docs(request: HttpRequest) -> HttpResponseRedirect:
    """``GET /api/gateway/docs/``: the API docs page with this document open."""
    return HttpResponseRedirect(DOCS_URL)
