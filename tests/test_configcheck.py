"""Strict configuration: unknown keys and schema errors are one line each, with a guess."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from seqlantern.configcheck import check_config, unknown_keys

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def _default() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


@pytest.mark.parametrize(
    "name",
    [
        "config.yaml",
        "examples/deepstarr.yaml",
        "examples/lentimpra.yaml",
        "examples/yeast_dream.yaml",
        "examples/deepstarr_own_model.yaml",
        "examples/bpnet_tiles.yaml",
    ],
)
def test_shipped_configs_are_clean(name: str) -> None:
    cfg = _default()
    extra = yaml.safe_load((ROOT / "config" / name).read_text())
    for k, v in extra.items():
        if isinstance(v, dict):
            cfg.setdefault(k, {}).update(v)
        else:
            cfg[k] = v
    assert check_config(cfg, SCHEMA) == []


@pytest.mark.parametrize(
    ("path", "guess"),
    [
        ("sede", "seed"),  # top level
        ("train.epoch", "train.epochs"),  # one level down
        ("annotate.motif_qvale", "annotate.motif_qvalue"),
        ("seqlet.fdr", "seqlets"),  # a misspelt section
    ],
)
def test_typos_are_named_with_the_closest_key(tmp_path: Path, path: str, guess: str) -> None:
    cfg = _default()
    user: dict = {}
    node, unode = cfg, user
    parts = path.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        unode = unode.setdefault(p, {})
    node[parts[-1]] = unode[parts[-1]] = 1
    f = tmp_path / "mine.yaml"
    f.write_text(yaml.safe_dump(user))
    lines = check_config(cfg, SCHEMA, files=[ROOT / "config/config.yaml", f])
    bad = parts[0] if guess == "seqlets" else path
    assert lines == [f"{f}: {bad}: unknown key; did you mean {guess}?"]


def test_free_form_sections_are_not_checked_key_by_key() -> None:
    cfg = _default()
    cfg["train"]["options"] = {"filters": [64], "anything": 1}
    cfg["model"]["kwargs"] = {"n_layers": 3}
    assert unknown_keys(cfg, yaml.safe_load(SCHEMA.read_text())) == []


def test_schema_violations_are_one_line_naming_the_key(tmp_path: Path) -> None:
    cfg = _default()
    cfg["seqlets"]["fdr"] = 1.5
    cfg["device"] = "tpu"
    f = tmp_path / "mine.yaml"
    f.write_text("seqlets:\n  fdr: 1.5\n")
    lines = check_config(cfg, SCHEMA, files=[ROOT / "config/config.yaml", f])
    assert len(lines) == 2
    assert f"{f}: seqlets.fdr: 1.5 is greater than the maximum of 1" in lines
    assert any(line.startswith(f"{ROOT / 'config/config.yaml'}: device: 'tpu'") for line in lines)
    assert all("\n" not in line for line in lines)


def test_bf16_with_ism_is_one_line() -> None:
    cfg = _default()
    cfg["attribution"].update(precision="bf16", method="ism")
    lines = check_config(cfg, SCHEMA)
    assert (
        len(lines) == 1 and "attribution.precision: bf16 cannot be used with method ism" in lines[0]
    )
    cfg["attribution"]["method"] = "gradient_x_input"
    assert check_config(cfg, SCHEMA) == []
