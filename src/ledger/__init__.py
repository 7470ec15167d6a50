"""ledger: an event-sourced double-entry ledger and reconciliation service."""

__version__ = "0.1.0"
