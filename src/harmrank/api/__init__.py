"""The HTTP API and web pages (SPEC section 7): ``create_app(ApiSettings(...))``.

>>> from harmrank.api import ApiSettings, create_app
>>> app = create_app(ApiSettings(db_path="harmrank.duckdb"))   # doctest: +SKIP

The web framework is imported only when the app is asked for, so that the command line can
mint tokens (:mod:`harmrank.api.security`) without loading it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harmrank.api.app import API_PREFIX, create_app
    from harmrank.api.settings import ApiSettings

__all__ = ["API_PREFIX", "ApiSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name in ("API_PREFIX", "create_app"):
        from harmrank.api import app

        return getattr(app, name)
    if name == "ApiSettings":
        from harmrank.api.settings import ApiSettings

        return ApiSettings
    raise AttributeError(name)
