"""callrt: a supervised actor runtime, on trio, for AI phone calls."""

__version__ = "0.1.0"
