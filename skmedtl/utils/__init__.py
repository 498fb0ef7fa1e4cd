"""Small helpers shared across skmedtl (private API)."""
