"""Analyses on aggregates: pure functions over canonical frames, returning frames or dataclasses."""
