"""Field mapping between BNG and M3, declared as YAML data in ``mapping/maps/``."""

from mapping.engine import FieldError, MappingResult, apply_mapping
from mapping.loader import load_lookups, load_mapping, load_mapping_file
from mapping.spec import LookupTables, MappingSpec, MappingSpecError

__all__ = [
    "FieldError",
    "LookupTables",
    "MappingResult",
    "MappingSpec",
    "MappingSpecError",
    "apply_mapping",
    "load_lookups",
    "load_mapping",
    "load_mapping_file",
]
