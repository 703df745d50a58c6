"""Model: the entry script and the rules for loading it, the dynamic batcher, the network and its weights."""
