"""nerfspec: neural radiance fields with interchangeable input mappings."""

__version__ = "0.1.0"
