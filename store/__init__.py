"""Persistence and business rules: plain synchronous SQLAlchemy, no trio."""
