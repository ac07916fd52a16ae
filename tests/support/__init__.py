"""Helpers shared by the tests: harnesses, fakes of nothing, sample data."""
