"""Examples that ship with the package: ``adapter-conformance example`` prints ``my_arch.py``, a complete spec to copy."""
