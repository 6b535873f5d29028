"""twinarch: encoder or decoder for sentence embeddings, under the same conditions."""

__version__ = "0.1.0"
