"""Transitional: data_access/security.py (moving to security/) still asks for ``valid_code`` here.
The one rule of area codes is data_access.areas.valid_code."""
from data_access.areas import valid_code

__all__ = ["valid_code"]
