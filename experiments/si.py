"""SI-prefixed number formatting and units read from key names (``energy_j`` → J).

Report keys carry their unit in the last ``_``-separated token of a name (``energy_j.laser``,
``total_latency_s``, ``laser_on_s``): the design rule "units in field names".
"""
from __future__ import annotations

import math

__all__ = ["format_si", "unit_of"]

# prefix exponents (powers of 1000) from femto to tera
SI_PREFIXES = {-5: "f", -4: "p", -3: "n", -2: "µ", -1: "m", 0: "", 1: "k", 2: "M", 3: "G", 4: "T"}
# unit suffix of a key name -> unit symbol
_UNITS = {"j": "J", "s": "s", "w": "W", "hz": "Hz", "m": "m", "rad": "rad", "k": "K",
          "bytes": "B", "b": "B", "v": "V", "a": "A", "ohm": "Ω", "dbm": "dBm", "db": "dB"}
# units that never take an SI prefix (logarithmic)
_NO_PREFIX = {"dBm", "dB"}


def format_si(value: float | None, unit: str = "", digits: int = 3) -> str:
    """``value`` with an SI prefix and ``digits`` significant figures: 0.0123, "J" → "12.3 mJ".

    ``None`` and NaN give "" (an absent value prints blank); 0 gives "0 <unit>"; infinities
    print as "inf". Trailing zeros are dropped (1.3e-6 s → "1.3 µs").
    """
    if value is None:
        return ""
    v = float(value)
    if math.isnan(v):
        return ""
    sep = " " if unit else ""
    if math.isinf(v):
        return f"{'-' if v < 0 else ''}inf{sep}{unit}"
    if v == 0:
        return f"0{sep}{unit}"
    if unit in _NO_PREFIX:
        return f"{v:.{digits}g}{sep}{unit}"
    exp3 = max(min(math.floor(math.log10(abs(v)) / 3), max(SI_PREFIXES)), min(SI_PREFIXES))
    mant = v / 1000.0 ** exp3
    text = f"{mant:.{digits}g}"
    if abs(float(text)) >= 1000 and exp3 < max(SI_PREFIXES):   # 999.95 m rounds up to 1 (next prefix)
        exp3 += 1
        text = f"{v / 1000.0 ** exp3:.{digits}g}"
    if "e" in text:   # beyond the prefix range: plain scientific notation in the base unit
        return f"{v:.{digits}g}{sep}{unit}"
    prefix = SI_PREFIXES[exp3]
    return f"{text}{' ' if unit or prefix else ''}{prefix}{unit}"


def unit_of(key: str) -> str:
    """Unit symbol encoded in a key name, "" if none: "energy_j.laser" → "J", "macs" → ""."""
    for part in reversed(key.split(".")):
        token = part.rsplit("_", 1)
        if len(token) == 2 and token[1].lower() in _UNITS:
            return _UNITS[token[1].lower()]
    return ""
