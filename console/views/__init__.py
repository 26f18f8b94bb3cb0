"""The console's pages: one module per part, each with the dataclass its template reads."""
