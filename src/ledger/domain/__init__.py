"""Aggregates and their events: pure rules, no I/O, no clock reads when applying events."""
