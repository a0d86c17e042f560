from collections.abc import Iterator

import pytest

from tests.integration.delivery.sms.provider import FakeProvider, running_provider


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with running_provider() as fake:
        yield fake
