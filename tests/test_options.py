"""One definition per option (src/seqlantern/options.py): the generated files, the command
line and the library defaults all follow it."""

from __future__ import annotations

import dataclasses
import shlex
from typing import Any

import pytest

from conftest import ROOT
from seqlantern import options as opts
from seqlantern.cli import build_parser, main


def test_generated_files_are_up_to_date() -> None:
    """schema, config.yaml and the README key tables are what the definitions generate
    (after an edit of options.py: `python -m seqlantern.options --write`)."""
    for path, text in opts.generated_files(ROOT).items():
        assert path.read_text() == text, f"{path}: run python -m seqlantern.options --write"


def test_generator_check_mode_reports_stale_files(tmp_path: Any, capsys: Any) -> None:
    for path, text in opts.generated_files(ROOT).items():
        target = tmp_path / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    assert opts.main(["--root", str(tmp_path)]) == 0
    cfg = tmp_path / "config" / "config.yaml"
    cfg.write_text(cfg.read_text().replace("epochs: 50", "epochs: 5"))
    assert opts.main(["--root", str(tmp_path)]) == 1
    assert "config.yaml: out of date" in capsys.readouterr().err
    assert opts.main(["--root", str(tmp_path), "--write"]) == 0
    assert "epochs: 50" in cfg.read_text()


def _other_value(o: opts.Option) -> Any:
    """A valid value different from the default (what a user's config might set)."""
    if o.nullable and o.default is not None:
        return None
    if o.kind == "bool":
        return not o.default
    if o.choices and o.kind == "strlist":
        return list(o.choices[: max(2, o.min_items or 0)])
    if o.choices:
        return next(c for c in o.choices if c != o.default)
    if o.kind == "strlist":
        return ["chrA", "chrB"]
    if o.kind == "json":
        return {"filters": [32], "note": "a b"}
    if o.kind == "int|str":
        return "Dev activity"
    if o.kind == "int":
        return (o.default or 0) + 3
    if o.kind == "float":
        if o.default is None:
            return 2.5
        hi = o.maximum if o.maximum is not None else o.default + 1
        return (o.default + hi) / 2 if hi > o.default else o.default / 2
    return "some value with spaces"


def _required(command: str) -> list[str]:
    argv = []
    for a in opts.COMMANDS[command].args:
        if a.required:
            argv += [a.flag] + (["x", "y"] if a.nargs == "+" else ["x"])
    return argv


@pytest.mark.parametrize("changed", [False, True])
def test_rule_flags_parse_back_to_the_config(changed: bool) -> None:
    """What a rule passes (`options("<command>")` in common.smk) is parsed by the command
    into exactly the config's values: defaults, and a config that changes every option."""
    parser = build_parser()
    all_options = list(opts.iter_options())
    config: dict[str, Any] = {}
    expected: dict[str, Any] = {}
    for o in all_options:
        value = _other_value(o) if changed else o.default
        node = config
        *parents, leaf = o.path.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
        expected[o.path] = value
    for command in opts.COMMANDS:
        argv = [command, *_required(command), *shlex.split(opts.cli_args(config, command))]
        ns = parser.parse_args(argv)
        for o in opts.options_for(command):
            if not o.workflow:
                continue
            want = expected[o.path]
            got = getattr(ns, o.dest)
            if o.kind == "int|str":
                want = str(want)
            assert got == want, f"{command} {o.flag}: {got!r} != config {o.path} {want!r}"


def test_every_option_is_on_its_commands_with_its_default() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for o in opts.iter_options():
        for command in o.commands:
            assert command in opts.COMMANDS, f"{o.path}: unknown command {command}"
            p = sub.choices[command]  # type: ignore[union-attr]
            action = next((a for a in p._actions if o.flag in a.option_strings), None)
            assert action is not None, f"{command} lacks {o.flag} ({o.path})"
            assert action.default == o.default, (command, o.flag)
            assert f"config {o.path}" in (action.help or "")


def test_library_defaults_are_the_config_defaults() -> None:
    """The stages' options dataclasses take their defaults from the definitions (the
    seqlet caller's `null` is the candidate null, laplace, also under `shuffled`)."""
    from seqlantern.annotate import AnnotateParams
    from seqlantern.seqlets import SeqletParams
    from seqlantern.shortcuts import ShortcutParams

    paths = {o.path: o.default for o in opts.iter_options()}
    checked = 0
    for cls, sections in (
        (AnnotateParams, ("annotate", "artifacts")),
        (SeqletParams, ("seqlets",)),
        (ShortcutParams, ("shortcuts",)),
    ):
        for f in dataclasses.fields(cls):
            path = next((f"{s}.{f.name}" for s in sections if f"{s}.{f.name}" in paths), None)
            if path is None:
                continue
            assert f.default == paths[path], f"{cls.__name__}.{f.name} != {path}"
            checked += 1
    assert checked >= 20
    assert SeqletParams().null == "laplace"


def test_cli_checks_what_the_schema_checks(capsys: Any) -> None:
    """Bounds and choices of the definitions: one line, exit 1, naming the option."""
    for argv, needle in (
        (["call-seqlets", "--attributions", "a", "--predictions", "p", "--out", "o",
          "--fdr", "1.5"], "argument --fdr: 1.5 must be at most 1"),
        (["compare-methods", "--onehot", "x", "--index", "i", "--out-table", "t",
          "--out-curves", "c", "--out-erf", "e", "--out-erf-profile", "f",
          "--methods", "ism,nope"], "argument --methods: unknown ['nope']"),
        (["train", "--onehot", "x", "--index", "i", "--targets", "t", "--out-model", "m",
          "--metrics", "m", "--curve", "c", "--learning-rate", "0"],
         "argument --learning-rate: 0 must be greater than 0"),
    ):  # fmt: skip
        with pytest.raises(SystemExit) as ex:
            main(argv)
        err = capsys.readouterr().err.strip()
        assert ex.value.code == 1 and len(err.splitlines()) == 1 and needle in err, err


def test_old_flags_still_work() -> None:
    """Flags users have in scripts: --no-correction, --no-baseline, --rc-average,
    --length 0 (equal lengths)."""
    p = build_parser()
    ns = p.parse_args(["attribute", "--onehot", "x", "--index", "i", "--out", "o",
                       "--predictions", "p", "--no-correction", "--rc-average"])  # fmt: skip
    assert ns.correction is False and ns.rc_average is True
    ns = p.parse_args(["train", "--onehot", "x", "--index", "i", "--targets", "t",
                       "--out-model", "m", "--metrics", "m", "--curve", "c", "--no-baseline",
                       "--columns", "a,b"])  # fmt: skip
    assert ns.baseline is False and ns.columns == ["a", "b"]
    ns = p.parse_args(["encode", "--onehot", "x", "--index", "i", "--length", "0"])
    assert ns.length is None


def test_shuffled_null_without_controls_is_one_line(tmp_path: Any, capsys: Any) -> None:
    import numpy as np

    np.save(tmp_path / "a.npy", np.zeros((2, 4, 30), dtype=np.float32))
    (tmp_path / "p.tsv").write_text("row\tname\tprediction\n0\ta\t0\n1\tb\t0\n")
    code = main(["call-seqlets", "--attributions", str(tmp_path / "a.npy"), "--predictions",
                 str(tmp_path / "p.tsv"), "--out", str(tmp_path / "s.tsv")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 1 and "--control-attributions" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "s.tsv").exists()


def test_repeated_list_flags_add_up() -> None:
    """`--teacher-of a=b --teacher-of c=d` keeps both pairs (argparse's default kept only
    the last, so a second distilled student lost its teacher in the comparison table)."""
    p = build_parser()
    ns = p.parse_args(["compare-training", "--variant", "plain=p.json", "--variant",
                       "distill_plain=d.json", "--teacher-of", "distill_plain=plain",
                       "--teacher-of", "distill_consistency=consistency", "--onehot", "x",
                       "--index", "i", "--targets", "t", "--column", "c", "--out", "o"])  # fmt: skip
    assert ns.variant == ["plain=p.json", "distill_plain=d.json"]
    assert ns.teacher_of == ["distill_plain=plain", "distill_consistency=consistency"]
    ns = p.parse_args(["compare-training", "--variant", "plain=p.json", "--onehot", "x",
                       "--index", "i", "--targets", "t", "--column", "c", "--out", "o"])  # fmt: skip
    assert ns.teacher_of == []
