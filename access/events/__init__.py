"""Events: every access decision a camera led to, with the snapshot that showed it."""
