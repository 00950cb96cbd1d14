"""Bytes: the content-addressed artifact store and the materializers that fill it."""
