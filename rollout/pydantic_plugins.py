"""The command runs pydantic without plugins.

pydantic looks for plugins (the `pydantic` entry-point group) when its first model is
built: `pydantic.plugin._loader` imports `importlib.metadata` (email, zipfile, csv, ...)
and scans every installed distribution's entry points, ~18 ms of CPU on every command
(docs/performance.md), more in a crowded environment. A plugin watches validations (an
observability hook); rollout's models are its own and nothing here wants them watched,
so the command answers "no plugins" without looking, as `PYDANTIC_DISABLE_PLUGINS=__all__`
does, but without the import. Library users of `waves` keep pydantic's own loader: only
`rollout.cli.main()` calls `skip()`.
"""

from __future__ import annotations

import importlib
import sys
import types

LOADER = "pydantic.plugin._loader"


def _no_plugins() -> tuple:
    return ()


class _Loader(types.ModuleType):
    """Stands for pydantic's loader: `get_plugins()` is empty; anything else a pydantic
    version asks of the loader comes from the real module, loaded then."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        del sys.modules[LOADER]  # the real one replaces this stand-in for good
        try:
            real = importlib.import_module(LOADER)
        except BaseException:
            sys.modules[LOADER] = self
            raise
        real.get_plugins = _no_plugins  # still none: the first answer stands
        return getattr(real, name)


def skip() -> None:
    """Before the first model is built; no-op once pydantic's loader is imported."""
    if LOADER not in sys.modules:
        loader = _Loader(LOADER, __doc__)
        loader.get_plugins = _no_plugins
        sys.modules[LOADER] = loader
