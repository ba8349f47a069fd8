"""Stage 2: keep every posting's history and turn each crawl into events (SQLAlchemy, SQLite or PostgreSQL)."""
