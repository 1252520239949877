class Conflict(Exception):
    """The request is well formed but clashes with what is stored (the API answers 409)."""
