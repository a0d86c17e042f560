"""How a channel reports a failed send, so the outbox knows whether to retry."""


class DeliveryError(Exception):
    """A message could not be handed over."""


class TransientDeliveryError(DeliveryError):
    """Worth retrying later: connection refused, timeouts, 4xx SMTP replies, 5xx/429 from an API."""


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help: recipient refused, invalid number, authentication rejected."""


class SettingsDeliveryError(TransientDeliveryError):
    """Our own settings stop every send on a channel: no SMTP host, login refused, sender refused.

    Transient, not permanent: nothing is wrong with the message or its recipient, and once an
    operator fixes the settings every waiting message can go out. Whoever sends may wait longer
    for these than for a passing outage (see surveys/sending.py).
    """
