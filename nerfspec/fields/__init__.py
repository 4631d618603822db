"""Radiance fields: ``build_field(FieldConfig, aabb, seed)`` returns one by name."""

from nerfspec.fields.base import FieldBase, RadianceField
from nerfspec.fields.registry import build_encoding, build_field

__all__ = ["FieldBase", "RadianceField", "build_encoding", "build_field"]
