"""Oracles: what an adapter setup must output, computed by the suite itself from a plain copy of the model and the
adapters' canonical weights (``conformance.weights``), by each method's published definition. They never run the
implementation's forward path. One module per method family; ``base`` holds the contract they share."""
