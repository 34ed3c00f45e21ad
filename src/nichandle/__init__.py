"""nichandle: the registrar's store of contacts (handles) and the rules that keep them lawful."""
