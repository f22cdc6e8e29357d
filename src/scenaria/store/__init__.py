"""Storage: SQLAlchemy Core repositories, SQLite by default, PostgreSQL for scale-out."""
