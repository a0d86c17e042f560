"""CRM webhooks: endpoints, fan-out of domain events and signed delivery (Standard Webhooks)."""
