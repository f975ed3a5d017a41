"""Adapters between Coral and ML frameworks (each imports its framework lazily)."""
