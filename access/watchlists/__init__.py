"""Who may pass which door and when (allow), who must never pass (block), and who is being searched for (missing)."""
