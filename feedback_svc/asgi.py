"""Entry point for ASGI servers running several worker processes.

`feedback-svc serve --workers N` resolves the database (starting the embedded
one if needed) in the parent and passes it to the workers through the
environment, so every worker builds the same app.
"""

import os

from litestar import Litestar

from feedback_svc.lib.dev_only import refuse_dev_only_packages
from feedback_svc.lib.logging import configure_logging
from feedback_svc.lib.malloc_arenas import limit_malloc_arenas
from feedback_svc.settings import Settings


def app_from_env() -> Litestar:
    refuse_dev_only_packages()  # before the app imports scikit-learn: see lib/dev_only.py
    limit_malloc_arenas()  # before the serving threads start: see lib/malloc_arenas.py
    from feedback_svc.app import create_app

    settings = Settings.from_env(os.environ)
    configure_logging(settings)
    return create_app(settings)
