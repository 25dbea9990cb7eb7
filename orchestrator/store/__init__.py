"""Storage: the SQLAlchemy models, the migrations' target, and every query (nothing else writes SQL)."""
