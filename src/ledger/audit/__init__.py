"""Audit: the hash chain over the log, an independent replay, and the books as they stood."""
