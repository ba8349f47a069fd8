"""Stage 2: keep every posting's history, turn each crawl into events (SQLAlchemy: SQLite or PostgreSQL)."""
