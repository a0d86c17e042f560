"""How a channel reports a failed send, so the outbox knows whether to retry."""


class DeliveryError(Exception):
    """A message could not be handed over."""


class TransientDeliveryError(DeliveryError):
    """Worth retrying later: connection refused, timeouts, 4xx SMTP replies, 5xx/429 from an API."""


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help: recipient refused, invalid number, authentication rejected."""
