"""Bulk imports: a CRM's customers, events and interactions from CSV or NDJSON files."""
