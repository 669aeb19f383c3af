"""Tabular input: tables, schema inference and validation."""
