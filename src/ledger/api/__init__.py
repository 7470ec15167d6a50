"""The HTTP API (spec/API.md): ``create_app`` builds the Litestar application."""

from ledger.api.app import create_app

__all__ = ["create_app"]
