"""Strict workflow configuration: unknown keys and schema errors as one line each.

Snakemake's own schema validation ignores keys the schema does not know (a typo such as
``train.epoch: 50`` silently runs with the default number of epochs) and reports a
violation as a 7-30-line wrapper that names neither the config file nor the key. This
check runs first, on the merged config, and returns one line per problem::

    config/my.yaml: train.epoch: unknown key; did you mean train.epochs?
    config/my.yaml: seqlets.fdr: 1.5 is greater than the maximum of 1

The file named is the last of the config files (in Snakemake's order of precedence)
that sets the key; ``--config`` on the command line when none does. Free-form sections
(an ``object`` without ``properties``, e.g. ``train.options``, ``model.kwargs``) are not
checked key by key: they are passed to the model.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml


def _resolve(node: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow a local ``$ref`` (``#/$defs/name``)."""
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        return target
    return node


def _all_paths(schema: Mapping[str, Any], root: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key, sub in (schema.get("properties") or {}).items():
        path = f"{prefix}{key}"
        out.append(path)
        out += _all_paths(_resolve(sub, root), root, path + ".")
    return out


def unknown_keys(
    config: Mapping[str, Any], schema: Mapping[str, Any]
) -> list[tuple[str, str | None]]:
    """Every config key the schema does not define: (dotted path, closest valid path)."""
    valid = _all_paths(schema, schema)
    found: list[tuple[str, str | None]] = []

    def walk(node: Any, sch: Mapping[str, Any], prefix: str) -> None:
        props = sch.get("properties")
        if not isinstance(node, Mapping) or props is None:
            return
        for key, value in node.items():
            path = f"{prefix}{key}"
            if key not in props:
                same_level = [p for p in valid if p.count(".") == path.count(".")]
                close = difflib.get_close_matches(path, same_level, n=1, cutoff=0.6)
                leaves = [p.rsplit(".", 1)[-1] for p in valid]
                anywhere = difflib.get_close_matches(str(key), leaves, n=1, cutoff=0.8)
                guess = close[0] if close else next(
                    (p for p in valid if anywhere and p.rsplit(".", 1)[-1] == anywhere[0]),
                    None)  # fmt: skip
                found.append((path, guess))
                continue
            walk(value, _resolve(props[key], schema), path + ".")

    walk(config, schema, "")
    return found


def _lookup(data: Any, path: str) -> bool:
    node = data
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def key_source(path: str, files: Iterable[str | Path]) -> str:
    """The last config file (in precedence order) that sets ``path``, or ``--config``."""
    source = "--config"
    for f in files:
        try:
            data = yaml.safe_load(Path(f).read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        if _lookup(data, path):
            source = str(f)
    return source


def check_config(
    config: Mapping[str, Any], schema_path: str | Path, *, files: Iterable[str | Path] = ()
) -> list[str]:
    """One line per unknown key and per schema violation (empty: the config is valid).

    Parameters
    ----------
    config
        The merged configuration, before defaults are filled in.
    schema_path
        The workflow's JSON schema (YAML).
    files
        The config files in Snakemake's order of precedence (later ones win), to name
        the file a key comes from.
    """
    import jsonschema

    schema = yaml.safe_load(Path(schema_path).read_text())
    files = list(files)
    lines = []
    for path, guess in unknown_keys(config, schema):
        hint = f"; did you mean {guess}?" if guess else "; see config/README.md"
        lines.append(f"{key_source(path, files)}: {path}: unknown key{hint}")
    validator = jsonschema.Draft202012Validator(schema)
    for err in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path))):
        if err.validator == "additionalProperties":
            continue  # reported above with a suggestion
        path = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        lines.append(f"{key_source(path, files)}: {path}: {err.message}")
    attr = config.get("attribution")
    if isinstance(attr, Mapping) and attr.get("precision") == "bf16" and attr.get(
            "method") in ("ism", "ism_l2"):  # fmt: skip
        lines.append(f"{key_source('attribution.precision', files)}: attribution.precision: "
                     f"bf16 cannot be used with method {attr['method']} (ISM effects are "
                     "differences of outputs that bf16 rounds away); set it to fp32")  # fmt: skip
    return lines
