"""Error answers, always JSON: ``{"error": code, "message": text, "errors": [fields...]}``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException


class ApiError(Exception):
    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = headers

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        return JSONResponse(body, status_code=self.status_code, headers=self.headers)


def not_found(what: str, key: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} {key!r} not found")


def field_errors(raw: Sequence[Any], *, strip: tuple[str, ...] = ("body",)) -> list[dict[str, Any]]:
    """Pydantic errors as ``{"field": "Lines.0.Quantity", "message", "type"}``."""
    errors = []
    for error in raw:
        loc = [str(part) for part in error.get("loc", ())]
        while loc and loc[0] in strip:
            loc = loc[1:]
        errors.append(
            {"field": ".".join(loc) or "body", "message": error.get("msg", ""), "type": error.get("type")}
        )
    return errors


def invalid(errors: list[dict[str, Any]]) -> ApiError:
    fields = ", ".join(error["field"] for error in errors)
    return ApiError(422, "validation_error", f"invalid field(s): {fields}", errors=errors)


def from_validation_error(exc: ValidationError) -> ApiError:
    return invalid(field_errors(exc.errors()))


def install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return exc.response()

    async def on_request_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return invalid(field_errors(exc.errors(), strip=("body", "query", "path", "header"))).response()

    async def on_http_exception(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return ApiError(exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {})).response()

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_request_validation)
    app.add_exception_handler(StarletteHTTPException, on_http_exception)
