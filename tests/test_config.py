import pytest

from classicseg.config import (
    apply_overrides, commented_config, load_file, parse_text, preset_names, resolve, validate,
)
from classicseg.errors import ConfigError


def test_presets_validate():
    assert "surveillance" in preset_names()
    for name in preset_names():
        spec = resolve(preset=name)
        assert spec.steps and spec.name == name


def test_all_errors_in_a_file_at_once(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(
        "pipelin: 3\n"
        "pipeline:\n"
        "  - stage: morph.open\n"
        "    radius: 0\n"
        "    shap: ellipse\n"
        "  - stage: bgsub.mgo2\n"
        "  - stage: bgsub.knn\n"
        "    history: abc\n"
    )
    with pytest.raises(ConfigError) as e:
        resolve(config=str(f))
    errs = e.value.errors
    assert len(errs) == 6, errs
    text = "\n".join(errs)
    assert "unknown top-level key 'pipelin' (did you mean 'pipeline'?)" in text
    assert "stage 1 (morph.open): radius: input should be greater than or equal to 1, got 0" in text
    assert "stage 1 (morph.open): unknown parameter 'shap' (did you mean 'shape'?)" in text
    assert "stage 1 (morph.open): needs 'fg', which no earlier stage provides" in text
    assert "stage 2: unknown stage 'bgsub.mgo2' (did you mean 'bgsub.mog2'?)" in text
    assert "stage 3 (bgsub.knn): history: input should be a valid integer" in text


def test_toml_config(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('name = "t"\n[[pipeline]]\nstage = "bgsub.knn"\nhistory = 50\n[[pipeline]]\nstage = "morph.open"\n')
    spec = resolve(config=str(f))
    assert [s.id for s in spec.steps] == ["bgsub.knn", "morph.open"]
    assert spec.steps[0].params.history == 50


def test_yaml_is_loaded_safely(tmp_path):
    f = tmp_path / "evil.yaml"
    f.write_text("pipeline: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_file(f)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_file(tmp_path / "nope.yaml")
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(ConfigError, match="'pipeline' must be a non-empty list"):
        resolve(config=str(tmp_path / "empty.yaml"))
    with pytest.raises(ConfigError, match="expected a mapping at the top"):
        parse_text("- 1\n- 2\n", "yaml", "x")


def test_overrides_precedence_and_types():
    spec = resolve(preset="surveillance", sets=[f"{resolve(preset='surveillance').steps[0].id}.n_samples=24"])
    assert spec.steps[0].params.n_samples == 24
    spec = resolve(preset="surveillance-fast", sets=["bgsub.knn.history=42"])
    assert spec.steps[0].params.history == 42
    raw = {"pipeline": [{"stage": "bgsub.mog2"}, {"stage": "morph.open"}, {"stage": "morph.open", "id": "big"}]}
    out = apply_overrides(raw, ["morph.open.radius=2", "big.radius=5", "bgsub.mog2.detect_shadows=false",
                                "source.max_bad_frames=3"])
    spec = validate(out)
    assert spec.steps[1].params.radius == 2 and spec.steps[2].params.radius == 5
    assert spec.steps[0].params.detect_shadows is False and spec.source.max_bad_frames == 3
    assert raw["pipeline"][1] == {"stage": "morph.open"}  # input not modified


def test_repeated_stage_ids_and_bad_overrides():
    raw = {"pipeline": [{"stage": "bgsub.mog2"}, {"stage": "morph.open"}, {"stage": "morph.open"}]}
    spec = validate(apply_overrides(raw, ["morph.open#2.radius=3"]))
    assert [s.id for s in spec.steps] == ["bgsub.mog2", "morph.open", "morph.open#2"]
    assert spec.steps[2].params.radius == 3
    with pytest.raises(ConfigError, match=r"no stage 'morph.opn' in this pipeline \(did you mean 'morph.open'\?\)"):
        apply_overrides(raw, ["morph.opn.radius=3"])
    with pytest.raises(ConfigError, match="expected STAGE.PARAM=VALUE"):
        apply_overrides(raw, ["radius"])


def test_preset_and_config_are_exclusive(tmp_path):
    with pytest.raises(ConfigError, match="not both"):
        resolve(preset="surveillance", config="x.yaml")
    with pytest.raises(ConfigError, match=r"unknown preset 'survelliance' \(did you mean 'surveillance'\?\)"):
        resolve(preset="survelliance")


def test_commented_defaults_round_trip(tmp_path):
    text = commented_config(resolve(preset="surveillance"))
    f = tmp_path / "full.yaml"
    f.write_text(text)
    spec = resolve(config=str(f))
    assert spec.to_dict() == resolve(preset="surveillance").to_dict()
    assert "# " in text and "Other stages:" in text


def test_source_section_validated():
    with pytest.raises(ConfigError, match="source: unknown parameter 'max_bad_frame'"):
        validate({"source": {"max_bad_frame": 3}, "pipeline": [{"stage": "bgsub.mog2"}]})
