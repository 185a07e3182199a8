"""OpenAPI helpers: problem responses declared per route, query parameters shared by the
list endpoints, the ``Problem`` schema registered once under ``components``, and the
``/docs`` page served from the package's own copy of Swagger UI (offline, no CDN)."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import FastAPI, Path, Query
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from pydantic import AfterValidator
from starlette.responses import HTMLResponse

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


SWAGGER_UI = FilePath(__file__).parent / "static" / "swagger-ui"
"""Swagger UI from its npm package (``vendor/``, ``make vendor``), with its licence."""
SWAGGER_UI_URL = "/static/swagger-ui"
DOCS_URL = "/docs"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` with the package's Swagger UI, so the page works offline; the app
    is built with ``docs_url=None`` (FastAPI's own page loads Swagger UI from a CDN) and
    without ``/redoc`` (ReDoc is not shipped)."""
    app.mount(SWAGGER_UI_URL, StaticFiles(directory=SWAGGER_UI), name="swagger-ui")

    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} – docs",
            swagger_js_url=f"{SWAGGER_UI_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_UI_URL}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_UI_URL}/favicon-32x32.png",
            oauth2_redirect_url=OAUTH2_REDIRECT_URL,
            # No badge that sends the schema to validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )

    def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    app.add_api_route(DOCS_URL, docs, include_in_schema=False)
    app.add_api_route(OAUTH2_REDIRECT_URL, oauth2_redirect, include_in_schema=False)
