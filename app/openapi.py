"""The API contract: quart-schema validates /api requests and responses with the pydantic
models in :mod:`app.schemas` and serves the OpenAPI 3 document at ``/openapi.json``.

No documentation UI is served: the ones quart-schema offers load scripts from a CDN, which
Herald's Content-Security-Policy (rightly) forbids. Point any OpenAPI viewer at the JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
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


class ApiOnlyProvider(OpenAPIProvider):
    """Documents the JSON API; the dashboard's HTML pages are not part of the contract."""

    def generate_rules(self) -> Iterable[Rule]:
        """Only the rules under /api."""
        return (rule for rule in super().generate_rules() if rule.rule.startswith("/api/"))

    def build_path_parameter(self, name: str, converter: BaseConverter) -> dict[str, Any]:
        """Ids in paths say their range, which the ``id`` converter enforces."""
        parameter: dict[str, Any] = super().build_path_parameter(name, converter)
        if isinstance(converter, IdConverter):
            parameter["schema"] |= {"minimum": 1, "maximum": MAX_ID}
        return parameter

    def schema(self) -> dict[str, Any]:
        """The document, completed where quart-schema cannot know: request bodies are
        required, DELETE answers 204, and the channel names this deployment accepts."""
        document: dict[str, Any] = super().schema()
        channels = list(self._app.extensions["herald.dispatcher"].channels)
        for path in document["paths"].values():
            for method, operation in path.items():
                if method == "delete":
                    operation["responses"].setdefault(204, {"description": "Deleted."})
                body = operation.get("requestBody")
                if body is None:
                    continue
                body["required"] = True
                schema = body["content"]["application/json"]["schema"]
                if schema.get("title") == "AlertIn":
                    for option in schema["properties"]["channels"]["anyOf"]:
                        if option.get("type") == "array":
                            option["items"]["enum"] = channels
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
