"""Keep development-only packages out of a serving process that happens to run beside them.

scikit-learn imports pandas whenever pandas is installed (`sklearn.utils.fixes`), and pytest
whenever pytest is (`sklearn.utils._testing`, reached through the list of trusted estimators that
skops builds on import). Neither is a dependency of the service, so a deployment has neither and
its serving process never loads them; in a development venv the test extras bring both (pandas
through `lifetimes`), and with the model loaded the serving process held 221 MiB instead of
185 MiB: pandas about 31 MiB, pytest 5 (docs/benchmarks.md, Scores). Refusing them makes the
serving process in development the one that is deployed, in memory and in behaviour: scikit-learn
takes its own no-pandas path, as in production, and code that came to need either package fails
in development too, not first in production.
"""

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

DEV_ONLY = ("pandas", "pytest")


class _Refuse:
    """A meta path finder that answers "not installed" for some top-level packages."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname.partition(".")[0] in self.names:
            raise ModuleNotFoundError(
                f"No module named {fullname!r} (development-only: see feedback_svc/lib/dev_only.py)",
                name=fullname,
            )
        return None


def refuse_dev_only_packages() -> None:
    """For the whole process, from now on; call before anything imports scikit-learn.

    A package that is loaded already stays usable (its memory is spent, and refusing its
    submodules would only break it): a test process that builds a serving app keeps its pytest.
    """
    if any(isinstance(finder, _Refuse) for finder in sys.meta_path):
        return
    names = frozenset(name for name in DEV_ONLY if name not in sys.modules)
    sys.meta_path.insert(0, _Refuse(names))
