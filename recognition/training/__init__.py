"""Training-time code: parsing data adapters and landmark-guided pseudo-labels (dlib is allowed only here)."""
