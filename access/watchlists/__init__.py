"""Who may pass which door and when (allow), who must never pass (block), who is sought (missing)."""
