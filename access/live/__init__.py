"""The live stream: each new event and each alert raised, acknowledged or resolved, as server-sent events."""
