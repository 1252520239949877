"""Pixels to decisions: face detection, parsing, alignment, face codes and gallery search, in torch."""
