"""The web app: server-rendered pages for the shop's staff on the API's FastAPI app.

``regulars.web.app.create_app`` is the API's app (``/v1``) plus the pages (``/``); the
pages call the same services as the API (:mod:`regulars.api.services`). See docs/app.md.
"""
