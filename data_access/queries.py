"""Transitional: data_access/security.py (moving to security/) still asks for ``area_chain`` here.
Everything else reads the domain modules: areas, vitals, incidents, incident_map, incident_list."""
from data_access.areas import area_chain

__all__ = ["area_chain"]
