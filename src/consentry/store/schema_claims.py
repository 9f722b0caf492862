"""Schema version 6: claims and disputes."""

CLAIMS_SCHEMA = """
CREATE TABLE claims_placeholder (id INTEGER PRIMARY KEY);
"""
