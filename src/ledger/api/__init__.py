"""The HTTP API (docs/api.md): ``create_app`` builds the Litestar application."""

from ledger.api.app import create_app

__all__ = ["create_app"]
