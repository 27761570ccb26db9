"""Shared test setup: the pytester fixture, for running the plugin on throwaway projects."""

pytest_plugins = ["pytester"]
