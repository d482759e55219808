"""A handler module that cannot be imported: its environment's init fails."""

raise ImportError("a layer this handler needs is missing")
