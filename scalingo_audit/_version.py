"""The one version source: the build reads it (pyproject.toml's [tool.hatch.version]),
``scalingo_audit.__version__`` and ``scalingo-audit --version`` show it."""

__version__ = "0.1.0"
