"""Strict test settings shared by every suite.

- JAX rank promotion raises; warnings are errors (pyproject's filterwarnings).
- Runtime shape checks: every jaxtyping annotation in ``samurai_core`` is checked by beartype
  during the tests (the import hook must run before anything imports the core, and every
  submodule is imported under it: the package itself loads them lazily).
- The directory of this file is on ``sys.path``, so tests share helpers with plain imports
  (``import samurai_reference``, ``from fixtures_sam2 import make_synthetic_frames``); the
  fixtures of ``fixtures_*.py`` are registered as plugins (``pytest_plugins``) and need no import.
"""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax  # noqa: E402
from jaxtyping import install_import_hook  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")

with install_import_hook("samurai_core", "beartype.beartype"):
    import importlib  # noqa: E402
    import pkgutil  # noqa: E402

    import samurai_core  # noqa: E402

    # The package loads its modules on first use: load them all here, under the hook.
    for _module in pkgutil.iter_modules(samurai_core.__path__):
        importlib.import_module(f"samurai_core.{_module.name}")

# The shared fixtures (tiny random-init SAM 2 / transformers / MedSAM assets, synthetic clips):
# plugins, so every test folder sees them without importing them. They import torch inside the
# fixtures only.
pytest_plugins = ["fixtures_sam2", "fixtures_hf"]
