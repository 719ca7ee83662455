"""Shared set-up of the harness' self-tests."""

# pytester runs inner pytest sessions for the plugin's self-tests (tests/test_plugin.py).
pytest_plugins = ["pytester"]
