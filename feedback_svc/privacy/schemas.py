"""What erasure and export answer."""

from datetime import datetime
from typing import Any
from uuid import UUID

from feedback_svc.lib.structs import Wire


class Erasure(Wire):
    customer_id: UUID
    erased_at: datetime


class CustomerExport(Wire):
    customer_id: UUID
    exported_at: datetime
    # every table's rows about the customer, as stored (token hashes and lease tokens left out)
    data: dict[str, Any]
