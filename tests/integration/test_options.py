"""OPTIONS lists every method a path has, without a key (there is no CORS to negotiate)."""

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/v1/webhook-endpoints", "GET, OPTIONS, POST"),
        ("/v1/webhook-endpoints/3f1c5e52-8d1c-4a5e-9c43-1b1f0a6c2d11", "DELETE, GET, OPTIONS, PATCH"),
        ("/v1/customers/3f1c5e52-8d1c-4a5e-9c43-1b1f0a6c2d11", "DELETE, GET, OPTIONS"),
    ],
)
async def test_options_lists_all_the_methods_of_the_path(
    client: AsyncTestClient[Litestar], path: str, allow: str
) -> None:
    response = await client.options(path)
    assert response.status_code == 204
    assert response.headers["allow"] == allow
    assert response.content == b""
