"""Alerts: a blocklisted or missing person was seen; someone must acknowledge and resolve it."""
