"""The network's building blocks: layers, their fusion into stages, losses and initializers."""
