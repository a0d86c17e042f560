"""The checked-in openapi/openapi.json is rendered from the app by this one function."""

import json

from feedback_svc.app import create_app
from feedback_svc.settings import Settings

# No database is touched: building the app does not connect; only the lifespan does.
_SCHEMA_SETTINGS = Settings(database_url="postgresql://schema-only/none", secret_key="x" * 32)


def render_openapi() -> str:
    app = create_app(_SCHEMA_SETTINGS)
    schema = app.openapi_schema.to_schema()
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
