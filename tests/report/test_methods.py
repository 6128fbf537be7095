"""What `classicseg compare --methods` accepts: presets, stages, stage:VALUE, pipeline files."""
import pytest

from classicseg.errors import ConfigError
from classicseg.report.methods import folder_name, method_names, resolve_method, resolve_methods, split_methods


def test_presets_stages_aliases_and_files(tmp_path):
    m = resolve_method("surveillance-fast")
    assert (m.kind, m.source, m.folder, m.spec.name) == ("preset", "surveillance-fast", "surveillance-fast",
                                                         "surveillance-fast")
    s = resolve_method("bgsub.mog2")
    assert (s.kind, s.source, [st.stage.name for st in s.spec.steps]) == ("stage", "bgsub.mog2", ["bgsub.mog2"])
    # the stage alone with its own defaults: OpenCV's MOG2 defaults, shadows kept out of the foreground
    p = s.spec.steps[0].params
    assert (p.history, p.var_threshold, p.detect_shadows) == (500, 16.0, True)
    a = resolve_method("knn")  # the last part of a stage name, when it names one stage
    assert (a.name, a.source, a.folder) == ("knn", "bgsub.knn", "knn")
    cfg = tmp_path / "naive-warp.yaml"
    cfg.write_text("name: whatever\npipeline:\n  - stage: bgsub.mog2\n    var_threshold: 24\n")
    f = resolve_method(str(cfg))
    assert (f.name, f.kind, f.spec.name, f.spec.steps[0].params.var_threshold) == ("naive-warp", "file",
                                                                                      "naive-warp", 24)
    assert "mog2" in method_names() and "surveillance" in method_names()


def test_unknown_names_get_the_nearest_valid_one():
    with pytest.raises(ConfigError) as exc:
        resolve_methods("surveilance,bgsub.mgo2,mog2")
    errs = exc.value.errors
    assert len(errs) == 2
    assert "unknown method 'surveilance' (did you mean 'surveillance'?)" in errs[0]
    assert "unknown method 'bgsub.mgo2' (did you mean 'bgsub.mog2'?)" in errs[1]
    assert all("\n" not in e for e in errs)


def test_bad_methods_say_what_is_wrong(tmp_path):
    with pytest.raises(ConfigError, match="stage bgsub.mog2 has no shortcut parameter"):
        resolve_method("bgsub.mog2:fast")
    with pytest.raises(ConfigError, match=r"method 'vos.propagate': .*flow"):
        resolve_method("vos.propagate")  # needs a flow stage before it
    with pytest.raises(ConfigError, match="pipeline file not found"):
        resolve_method(str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="would both write to folder mog2"):
        resolve_methods(["mog2", "mog2"])
    with pytest.raises(ConfigError, match="no method given"):
        resolve_methods("")


def test_shortcut_parameter_of_a_stage(monkeypatch):
    """STAGE:VALUE sets the stage's shortcut parameter (``algorithm`` for bgsub.bgslibrary)."""
    from classicseg.stages.bgsub.framediff import FrameDiff

    monkeypatch.setattr(FrameDiff, "shortcut", "threshold", raising=False)
    m = resolve_method("bgsub.framediff:40")
    assert m.spec.steps[0].params.threshold == 40 and m.folder == "bgsub.framediff-40"
    with pytest.raises(ConfigError, match=r"method 'bgsub.framediff:300'.*threshold"):
        resolve_method("bgsub.framediff:300")


def test_folder_names_and_splitting():
    assert folder_name("bgsub.bgslibrary:SuBSENSE") == "bgsub.bgslibrary-SuBSENSE"
    assert split_methods(" a, b,,c ") == ["a", "b", "c"]
