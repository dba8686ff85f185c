"""The API contract: quart-schema validates /api requests and responses with the pydantic
models in :mod:`app.schemas` and serves the OpenAPI 3 document at ``/openapi.json``.

No documentation UI is served: the ones quart-schema offers load scripts from a CDN, which
Herald's Content-Security-Policy (rightly) forbids. Point any OpenAPI viewer at the JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError
from quart import Quart
from quart.typing import ResponseReturnValue
from quart_schema import Info, QuartSchema, RequestSchemaValidationError, document_response
from quart_schema.openapi import OpenAPIProvider
from werkzeug.routing import BaseConverter, Rule

from app.errors import InvalidInput, error_response
from app.ids import MAX_ID, IdConverter
from app.schemas import ErrorOut, field_errors

T = TypeVar("T", bound=Callable[..., Any])
RETRY_AFTER: dict[str, Header] = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    }
}


HEADERS_ATTRIBUTE = "_herald_documented_headers"
Header = dict[str, Any]  # an OpenAPI header (or header parameter) object, without its name


@dataclass(frozen=True)
class DocumentedHeaders:
    """Headers a route reads from requests and sets on its responses, for the document."""

    request: dict[str, Header]
    responses: dict[int, dict[str, Header]]


def document_headers(
    request: dict[str, Header] | None = None, responses: dict[int, dict[str, Header]] | None = None
) -> Callable[[T], T]:
    """Declare the request headers a route reads and the response headers it sets."""

    def decorator(func: T) -> T:
        setattr(func, HEADERS_ATTRIBUTE, DocumentedHeaders(request or {}, responses or {}))
        return func

    return decorator


def location(what: str) -> dict[str, Header]:
    """The ``Location`` response header, pointing at ``what``."""
    return {"Location": {"description": f"The {what}'s URL.", "schema": {"type": "string"}}}


def hoisted(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """A model's inline schema moved into ``components`` (once) and referred to by ``$ref``:
    generated clients then make one class of it, however many answers use it."""
    title = schema.get("title")
    if not title or "$ref" in schema or schema.get("type") != "object":
        return schema
    components.setdefault(title, schema)
    return {"$ref": f"#/components/schemas/{title}"}


class ApiOnlyProvider(OpenAPIProvider):
    """Documents the JSON API; the dashboard's HTML pages are not part of the contract."""

    def generate_rules(self) -> Iterable[Rule]:
        """Only the rules under /api."""
        return (rule for rule in super().generate_rules() if rule.rule.startswith("/api/"))

    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        """quart-schema's paths, with the headers the route declared and every error able to
        say when to come back (``Retry-After`` on 429)."""
        paths, components = super().build_paths(rule)
        declared = getattr(self._app.view_functions[rule.endpoint], HEADERS_ATTRIBUTE, None)
        responses = dict(declared.responses) if declared else {}
        responses.setdefault(429, {}).update(RETRY_AFTER)
        for operation in next(iter(paths.values())).values():
            if declared:
                operation["parameters"] = [
                    *operation["parameters"],
                    *({"name": name, "in": "header", **h} for name, h in declared.request.items()),
                ]
            for status, headers in responses.items():
                answer = operation["responses"].get(status)
                if answer is not None:
                    operation["responses"][status] = {**answer, "headers": headers}
        return paths, components

    def build_path_parameter(self, name: str, converter: BaseConverter) -> dict[str, Any]:
        """Ids in paths say their range, which the ``id`` converter enforces."""
        parameter: dict[str, Any] = super().build_path_parameter(name, converter)
        if isinstance(converter, IdConverter):
            parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        return parameter

    def schema(self) -> dict[str, Any]:
        """The document, completed where quart-schema cannot know: request bodies are
        required, DELETE answers 204, and the channel names this deployment accepts."""
        document: dict[str, Any] = super().schema()
        channels = list(self._app.extensions["herald.channels"])  # a proxy to the app
        components = document["components"]["schemas"]
        for path in document["paths"].values():
            for method, operation in path.items():
                if method == "delete":
                    operation["responses"].setdefault(204, {"description": "Deleted."})
                for answer in operation["responses"].values():
                    for content in answer.get("content", {}).values():
                        content["schema"] = hoisted(content["schema"], components)
                body = operation.get("requestBody")
                if body is None:
                    continue
                body["required"] = True
                content = body["content"]["application/json"]
                if content["schema"].get("title") == "AlertIn":
                    for option in content["schema"]["properties"]["channels"]["anyOf"]:
                        if option.get("type") == "array":
                            option["items"]["enum"] = channels
                content["schema"] = hoisted(content["schema"], components)
        return document


async def handle_schema_error(error: RequestSchemaValidationError) -> ResponseReturnValue:
    """422 naming each bad field (body or query string)."""
    cause = error.validation_error
    fields = field_errors(cause) if isinstance(cause, ValidationError) else {"body": str(cause)}
    message = "Some fields are invalid: " + ", ".join(fields) + "."
    return await error_response(InvalidInput(message, fields))


def document_errors(*codes: int) -> Callable[[T], T]:
    """Declare the JSON error answers a route can give (400, 401 and 429 on every API route:
    a NUL in the query string is a 400 wherever it is)."""

    def decorator(func: T) -> T:
        for code in sorted({400, 401, 429, *codes}):
            func = document_response(ErrorOut, code)(func)
        return func

    return decorator


def init_app(app: Quart) -> None:
    """Attach quart-schema with bearer-token security and no CDN-backed UI."""
    QuartSchema(
        app,
        openapi_path="/openapi.json",
        redoc_ui_path=None,
        scalar_ui_path=None,
        swagger_ui_path=None,
        info=Info(title="Herald", version="0.1.0", description="Async alert gateway API."),
        security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
        security=[{"bearer": []}],
        openapi_provider_class=ApiOnlyProvider,
    )
    app.register_error_handler(RequestSchemaValidationError, handle_schema_error)
