"""Implementations under test, each behind ``conformance.interface.Implementation``; chosen with ``--impl``."""
