"""casecoder: qualitative case coding and experience distillation."""

__version__ = "0.1.0"
