"""casecoder: qualitative case coding and experience distillation."""

__version__ = "0.2.0"  # the one place of the version (pyproject.toml reads it)
