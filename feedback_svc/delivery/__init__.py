"""Channels that reach customers: email over SMTP, SMS through a provider API."""
