"""lstmkit: Long Short-Term Memory networks made practical."""

__version__ = "0.1.0"
