"""Projections: pure folds of events into read tables."""
