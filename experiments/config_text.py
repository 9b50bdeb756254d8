"""Config text in and out: TOML files, ``--set dotted.key=value`` items, dotted keys, the TOML
writer (tomli-w), the one deep merge of nested tables, and :class:`ConfigError` — every error
one line naming the key or file, the value and what is allowed."""
from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any, Mapping

__all__ = ["ConfigError", "load_toml", "parse_set", "key_path", "set_dotted", "mapping_to_toml",
           "with_comments", "deep_merge", "flatten_config", "config_value"]


class ConfigError(ValueError):
    """A configuration value is not allowed."""


def load_toml(path: str | Path, *, what: str = "config file") -> dict[str, Any]:
    """Parse a TOML file; every failure is one ConfigError line naming the file."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{what} {str(p)!r} does not exist")
    if not p.is_file():
        raise ConfigError(f"{what} {str(p)!r} is not a regular file")
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise ConfigError(f"{what} {str(p)!r} cannot be read: {e.strerror}") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError(f"{what} {str(p)!r} is UTF-16 (byte-order mark); allowed: UTF-8 TOML text")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]          # a UTF-8 byte-order mark is harmless: editors on some systems add it
    if b"\x00" in raw:
        raise ConfigError(f"{what} {str(p)!r} is a binary file; allowed: UTF-8 TOML text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{what} {str(p)!r} is not UTF-8 text (byte {e.start}); allowed: UTF-8 "
                          "TOML") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{what} {str(p)!r} is not valid TOML: {e}") from None
    if not doc:   # empty or comments only: almost always the wrong file
        raise ConfigError(f"{what} {str(p)!r} is empty; allowed: a TOML file with at least one "
                          "table or key")
    return doc


def parse_set(item: str) -> tuple[str, Any]:
    """``dotted.key=value`` → (key, value); the value is read as TOML, else taken as a string."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}; allowed: dotted.key=value, e.g. "
                          "device.phase_noise.sigma_rad=0.01")
    key, text = _split_set(item)
    parts = key_path(key)
    if parts is None or len(parts) < 2:
        raise ConfigError(f"--set key {key!r}; allowed: section.key or section.table.key, e.g. "
                          "run.epochs, device.output_adc.bits or 'cost.gpu.\"H100 SXM5\".tdp_w'")
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text           # bare words (preset names, paths) are strings
    return ".".join(_quote(p) for p in parts), value


def _split_set(item: str) -> tuple[str, str]:
    """Split at the first "=" outside double quotes."""
    quoted = False
    for i, ch in enumerate(item):
        if ch == '"':
            quoted = not quoted
        elif ch == "=" and not quoted:
            return item[:i].strip(), item[i + 1:]
    raise ConfigError(f"--set {item!r}; allowed: dotted.key=value")


def _quote(part: str) -> str:
    return part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else json.dumps(part)


def key_path(key: str) -> list[str] | None:
    """A TOML dotted key as its parts (``cost.gpu."H100 SXM5".tdp_w`` → 4 parts), or None."""
    try:
        doc = tomllib.loads(f"{key} = 0")
    except tomllib.TOMLDecodeError:
        return None
    parts = []
    while isinstance(doc, dict) and len(doc) == 1:
        (k, doc), = doc.items()
        parts.append(k)
    return parts if doc == 0 else None


def set_dotted(mapping: dict[str, Any], key: str, value: Any) -> None:
    """Set ``a.b.c = value`` in a nested mapping, creating tables on the way (TOML dotted-key
    syntax: quoted parts may hold dots and spaces)."""
    parts = key_path(key)
    if parts is None:
        raise ConfigError(f"key {key!r}; allowed: a dotted config key such as run.epochs")
    node = mapping
    for i, part in enumerate(parts[:-1]):
        nxt = node.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"{'.'.join(parts[:i + 1])} is a value, so {key} cannot be set; "
                              "allowed: keys of tables")
        node = nxt
    node[parts[-1]] = value


def _tomlable(v: Any) -> Any:
    """Tuples as arrays (TOML has no tuples); nested tables copied."""
    if isinstance(v, Mapping):
        return {str(k): _tomlable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_tomlable(x) for x in v]
    return v


def mapping_to_toml(m: Mapping[str, Any]) -> str:
    """Nested mapping → TOML text (tomli-w; tables after plain keys)."""
    import tomli_w
    return tomli_w.dumps(_tomlable(m))


def with_comments(text: str, comments: Mapping[str, str]) -> str:
    """TOML text with ``# comment`` after the first line of each key's assignment."""
    table, out = [], []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]") and not line.startswith(" "):
            parts = key_path(stripped.strip("[]") + ".x")
            table = parts[:-1] if parts else []
        elif " = " in line and not line.startswith(" "):
            parts = key_path(line.split(" = ", 1)[0])
            key = ".".join(table + (parts or []))
            if key in comments:
                line = f"{line}  # {comments[key]}"
        out.append(line)
    return "\n".join(out) + "\n"


def deep_merge(base: Mapping, over: Mapping | None) -> dict:
    """A new nested dict: ``base`` with ``over`` on top, tables merged key by key (a value of
    ``over`` replaces anything that is not a table on both sides). Nothing is shared with the
    inputs: every table of the result is a fresh dict."""
    out = {k: deep_merge(v, None) if isinstance(v, Mapping) else v for k, v in base.items()}
    for k, v in (over or {}).items():
        out[k] = (deep_merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), dict)
                  else deep_merge(v, None) if isinstance(v, Mapping) else v)
    return out


def flatten_config(m: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables → dotted keys; keys that are already dotted stay as they are."""
    out: dict[str, Any] = {}
    for k, v in m.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten_config(v, key + "."))
        else:
            out[key] = v
    return out


def config_value(config: Mapping[str, Any], *keys: str, default: Any = None) -> Any:
    """First of ``keys`` present in ``config`` (flat, dotted or nested): e.g.
    ``config_value(cfg, "cost.level", "cost_level")``."""
    flat = flatten_config(config)
    for k in keys:
        if k in flat:
            return flat[k]
    return default
