"""App factories for ``benchmarks/api_ingest.py`` (``uvicorn --factory``, several workers).

* ``store``: the real API (:func:`regulars.api.create_app`) on ``$REGULARS_BENCH_URL``.
* ``bare``: a FastAPI app whose ``POST /v1/orders`` parses the same body (``OrderIn``)
  and returns a constant: the cost of the framework, the server and validation alone.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from regulars.api import create_app
from regulars.api.schemas import OrderIn
from regulars.store.session import make_engine


def store() -> FastAPI:
    # One connection per worker thread of FastAPI's pool at 16 concurrent requests.
    engine = make_engine(os.environ["REGULARS_BENCH_URL"], pool_size=20, max_overflow=10)
    return create_app(engine)


def bare() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/orders", status_code=201)
    def post_order(body: OrderIn) -> dict[str, str]:
        return {"order_id": body.order_id}

    return app
