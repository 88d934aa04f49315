"""Cached, scope-checked reads that pages call: the only users of the tick cache.

Each reader takes the runtime, the principal's ``scope`` (an area code, or None: the whole city)
and bound parameters; it checks the scope (data_access.areas.require_within) before it returns
any value, cached or not, and builds its cache keys in ``keys``.
"""
