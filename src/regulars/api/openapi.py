"""OpenAPI helpers: problem responses declared per route, query parameters shared by the
list endpoints, and the ``Problem`` schema registered once under ``components``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Path, Query
from fastapi.openapi.utils import get_openapi
from pydantic import AfterValidator

from regulars.api.problems import PROBLEM_JSON
from regulars.api.schemas import Problem, storable

_DESCRIPTIONS = {
    400: "the body cannot be read (not UTF-8 text)",
    401: "no API key, or an unknown or revoked one",
    403: "the API key lacks the scope",
    404: "not found",
    409: "conflicts with what is stored",
    413: "the request body is too large",
    422: "invalid input; `errors` names each offending field",
}
_PROBLEM_CONTENT = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}


def problems(
    *codes: int, body: bool = False, **descriptions: str
) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: 401, 403 and 422 always, 400 and 413 for a route with a
    ``body``, plus ``codes``; a description can be given per code as ``d404="…"``."""
    return {
        code: {
            "description": descriptions.get(f"d{code}", _DESCRIPTIONS[code]),
            "content": _PROBLEM_CONTENT,
        }
        for code in sorted({401, 403, 422, *codes, *((400, 413) if body else ())})
    }


Text = Annotated[str, AfterValidator(storable)]
IdPath = Annotated[Text, Path(min_length=1, max_length=255)]
MAX_LIMIT = 200
"""Largest page of a list endpoint."""
DEFAULT_LIMIT = 50
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"page size, at most {MAX_LIMIT}")]
Cursor = Annotated[
    Text | None,
    Query(max_length=512, description="`next_cursor` of the previous page"),
]


def install_openapi(app: FastAPI) -> None:
    """Serve the generated schema with ``Problem`` (and ``FieldError``) in ``components``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(problem.pop("$defs", {}))
            components["Problem"] = problem
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
