"""Checkpoints of other adapter libraries: reading and writing their folder layouts (``adapterhub``: AdapterHub
``adapters``). Files only: no other library is imported."""
