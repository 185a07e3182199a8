"""The floor of ``benchmarks/api_load.py``: ``uvicorn --factory benchmarks.api_app:bare``.

``bare`` is a FastAPI app whose ``POST /v1/orders`` parses the same body as the real one
(``OrderIn``) and returns a constant: the cost of the framework, the server and validation
alone, with no database. The real API is served by ``regulars serve``
(:func:`regulars.api.app.create_app`).
"""

from __future__ import annotations

from fastapi import FastAPI

from regulars.api.schemas import OrderIn


def bare() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/orders", status_code=201)
    def post_order(body: OrderIn) -> dict[str, str]:
        return {"order_id": body.order_id}

    return app
