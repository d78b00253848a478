"""Helpers shared by the tests that drive a real server process."""
