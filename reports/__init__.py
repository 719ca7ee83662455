"""Result files of conformance runs, and the support matrix rendered from them.

This package reads and writes JSON only: it never imports torch or transformers.
"""

from __future__ import annotations

from reports.results import OUTCOMES, SCHEMA_VERSION, Architecture, Check, Results, load_results, write_results


__all__ = ["OUTCOMES", "SCHEMA_VERSION", "Architecture", "Check", "Results", "load_results", "write_results"]
