"""The adapter modules, one module per method family. Each knows nothing of where it sits in a model."""
