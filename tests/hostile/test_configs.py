"""Hostile pipeline files and overrides: one-line config errors (exit 2), nothing executed,
bounded time and memory; every stage parameter has an upper bound."""
from __future__ import annotations

import os
import sys
import typing

import pytest

from tests.hostile.util import EXIT, assert_untouched, check_error, frames, user_files

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="FIFOs, /proc and rlimits: Linux")

BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
pipeline: [{stage: bgsub.mog2, tag: *i}]
"""
GOOD = "pipeline:\n  - stage: bgsub.framediff\n"


def _config(cli, tmp_path, name: str, content, *needles, sets=(), run=True):
    cfg = tmp_path / name
    if isinstance(content, bytes):
        cfg.write_bytes(content)
    elif content is not None:
        cfg.write_text(content)
    out = tmp_path / "out"
    before = user_files(out)
    if run:
        clip = frames(tmp_path / "clip", n=3)
        argv = ["-q", "run", "-c", cfg, "-i", clip, "-o", out, "--no-progress"]
    else:
        argv = ["config", "--check", cfg]
    for s in sets:
        argv += ["--set", s]
    line = check_error(cli(argv), EXIT["config"], *needles)
    assert_untouched(before, out)
    assert not list(out.glob("0*.png")), "a run with a bad config wrote masks"
    return line


def test_yaml_alias_bomb(cli, tmp_path):
    _config(cli, tmp_path, "bomb.yaml", BOMB, "aliases")


def test_yaml_recursive_alias(cli, tmp_path):
    _config(cli, tmp_path, "loop.yaml", "a: &a [*a]\npipeline: []\n", "recursive")


@pytest.mark.parametrize("fmt", ["yaml", "toml"])
def test_50000_deep_nesting(cli, tmp_path, fmt):
    deep = "[" * 50_000 + "]" * 50_000
    text = f"a: {deep}\n" if fmt == "yaml" else f"a = {deep}\n"
    _config(cli, tmp_path, f"deep.{fmt}", text, "nest")


def test_deep_inline_tables_toml(cli, tmp_path):
    _config(cli, tmp_path, "deep.toml", "a = " + "{b = " * 3000 + "1" + "}" * 3000 + "\n", "nested")


def test_duplicate_top_level_key(cli, tmp_path):
    _config(cli, tmp_path, "dup.yaml", GOOD + "pipeline:\n  - stage: bgsub.mog2\n", "duplicate key 'pipeline'")


def test_duplicate_parameter(cli, tmp_path):
    _config(cli, tmp_path, "dup.yaml", "pipeline:\n  - stage: bgsub.framediff\n    gap: 1\n    gap: 2\n",
            "duplicate key 'gap'", "line 4")


def test_duplicate_key_in_toml(cli, tmp_path):
    _config(cli, tmp_path, "dup.toml", 'name = "a"\nname = "b"\n', "not valid toml")


def test_python_tags_are_not_executed(cli, tmp_path):
    flag = tmp_path / "pwned"
    text = f"name: !!python/object/apply:os.system ['touch {flag}']\n" + GOOD
    _config(cli, tmp_path, "evil.yaml", text, "not valid yaml")
    assert not flag.exists()


@pytest.mark.parametrize("override,needle", [
    ("bgsub.mog2.history=1000000000000000000000000000000", "history"),
    ("bgsub.mog2.var_threshold=1e400", "var_threshold"),
    ("bgsub.mog2.var_threshold=.nan", "var_threshold"),
    ("bgsub.mog2.var_threshold=-.inf", "var_threshold"),
    ("bgsub.mog2.n_mixtures=-3", "n_mixtures"),
    ("bgsub.mog2.history=lots", "history"),
    ("bgsub.mog2.histroy=5", "did you mean 'history'"),
    ("source.max_bad_frames=100000000000000000000", "max_bad_frames"),
    ("source.read_timeout_ms=1e300", "read_timeout_ms"),
])
def test_out_of_range_values(cli, tmp_path, override, needle):
    _config(cli, tmp_path, "mog2.yaml", "pipeline:\n  - stage: bgsub.mog2\n", needle, sets=[override])


@pytest.mark.parametrize("param,value", [("gap", 10**30), ("blur", 100001), ("blur", 4)])
def test_framediff_gap_and_blur(cli, tmp_path, param, value):
    _config(cli, tmp_path, "fd.yaml", f"pipeline:\n  - stage: bgsub.framediff\n    {param}: {value}\n", param)


def test_gmg_smoothing_radius(cli, tmp_path):
    _config(cli, tmp_path, "gmg.yaml", "pipeline:\n  - stage: bgsub.gmg\n    smoothing_radius: 100000000\n",
            "smoothing_radius")


def test_set_value_with_an_alias_bomb(cli, tmp_path):
    levels = ["a: &a [1,1,1,1,1,1,1,1,1,1]"] + [
        f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]" for p, c in zip("abcde", "bcdef")]
    _config(cli, tmp_path, "fd.yaml", GOOD, "aliases", sets=["bgsub.framediff.gap={" + ", ".join(levels) + "}"])


def test_set_value_with_a_newline(cli, tmp_path):
    line = _config(cli, tmp_path, "fd.yaml", GOOD, "gap", sets=["bgsub.framediff.gap=\n\nx"])
    assert "\n" not in line


def test_too_many_zones(cli, tmp_path):
    zones = ", ".join(f"{{name: z{i}, polygon: [[0, 0], [1, 0], [1, 1]]}}" for i in range(1001))
    text = ("pipeline:\n  - stage: bgsub.mog2\n  - stage: blobs.components\n  - stage: track.hungarian\n"
            f"  - stage: events.zones\n    zones: [{zones}]\n")
    _config(cli, tmp_path, "zones.yaml", text, "zones")


def test_config_is_a_fifo(cli, tmp_path):
    os.mkfifo(tmp_path / "pipe.yaml")
    _config(cli, tmp_path, "pipe.yaml", None, "fifo")


def test_config_is_a_device(cli, tmp_path):
    line = check_error(cli(["config", "--check", "/dev/zero"]), EXIT["config"], "not a regular file")
    assert "/dev/zero" in line


def test_config_is_binary(cli, tmp_path):
    _config(cli, tmp_path, "bin.yaml", bytes(range(256)) * 40, "cannot read config")


def test_config_is_not_utf8(cli, tmp_path):
    _config(cli, tmp_path, "latin.yaml", "name: caf\xe9\n".encode("latin-1") + GOOD.encode(), "cannot read config")


def test_config_too_large(cli, tmp_path):
    _config(cli, tmp_path, "big.yaml", GOOD + "# " + "x" * (2 << 20) + "\n", "larger than")


@pytest.mark.parametrize("text,needle", [("- a\n- b\n", "mapping at the top"), ("", "pipeline"),
                                         ("pipeline: 5\n", "pipeline"), ("pipeline: [{stage: nope.nope}]\n",
                                                                          "unknown stage")])
def test_config_shapes(cli, tmp_path, text, needle):
    _config(cli, tmp_path, "odd.yaml", text, needle, run=False)


# --------------------------------------------------------------------------- every stage's parameters
def _stage_names():
    from classicseg import catalog

    return sorted(catalog.all_stages())


def _numeric(ann) -> bool:
    return any(t in (int, float) for t in (ann, *typing.get_args(ann)))


@pytest.mark.parametrize("name", _stage_names())
def test_every_numeric_parameter_has_bounds(name):
    """Every int/float parameter has an explicit lower and upper bound, which
    ``classicseg stages`` shows, and 10**30 is refused as a config error."""
    from classicseg import catalog
    from classicseg.config import describe_params, validate
    from classicseg.errors import ConfigError

    cls = catalog.get(name)
    docs = {p: doc for p, _, _, doc in describe_params(cls.Params)}
    for field, info in cls.Params.model_fields.items():
        if not _numeric(info.annotation):
            continue
        ups = [m for m in info.metadata if getattr(m, "le", None) is not None or getattr(m, "lt", None) is not None]
        los = [m for m in info.metadata if getattr(m, "ge", None) is not None or getattr(m, "gt", None) is not None]
        assert ups and los, f"{name}.{field} has no {'upper' if not ups else 'lower'} bound"
        assert "<" in docs[field], f"{name}.{field}: the bound is not documented"
        with pytest.raises(ConfigError, match=field):
            validate({"pipeline": [{"stage": name, field: 10**30}]})
