"""Cameras: where frames come from, which door each guards, and how strictly it matches faces."""
