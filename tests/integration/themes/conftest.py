import msgspec
import pytest

from feedback_svc.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # the seeded corpora are small (10 comments make a language worth theming) and hold 2-3 topics
    return msgspec.structs.replace(settings, themes_min_comments=10, themes_max_per_language=3)
