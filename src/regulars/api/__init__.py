"""The HTTP API (``regulars serve``): FastAPI app, versioned under ``/v1``."""

from regulars.api.app import create_app

__all__ = ["create_app"]
