"""Wire formats the gateway speaks: translations between a vendor's JSON and the normal form (no I/O)."""
