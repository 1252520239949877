"""Doors and the controllers that open them, and door groups for granting access to many doors at once."""
