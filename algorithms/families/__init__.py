"""Algorithm families. Every module here registers its algorithms with
:func:`algorithms.registry.register` when imported; the registry imports them all on first use.
A new algorithm is one module here (copy ``zo_sign.py``) plus its tests."""
