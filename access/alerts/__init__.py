"""Alerts: a blocklisted or missing person was seen, or a door controller or camera pipeline went quiet."""
