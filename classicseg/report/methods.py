"""What ``classicseg compare --methods`` accepts, turned into validated pipelines.

A method is one of:

* a shipped preset (``surveillance``, ``vos``; ``classicseg config --list``);
* a stage name (``bgsub.mog2``, or its last part alone when that names one stage:
  ``mog2``): a one-stage pipeline with the stage's own defaults and nothing else. A
  background subtractor gets no post-filter, no median, no shadow removal beyond what the
  stage itself does (OpenCV's subtractors mark shadows, and the stage keeps them out of
  the foreground, as CDnet counts shadow as background): this is the baseline a paper
  quotes as "MOG2 with OpenCV's defaults";
* ``stage:VALUE``: the same with the stage's *shortcut* parameter set to ``VALUE``
  (a stage names it in its ``shortcut`` class attribute; a stage with an ``algorithm``
  parameter, such as ``bgsub.bgslibrary``, uses that: ``bgsub.bgslibrary:SuBSENSE``);
* a pipeline file (``.yaml``, ``.yml``, ``.toml``; a path with a folder in it is always
  read as a file), named by its file stem.

Each method's masks go to ``DIR/<folder>/`` where ``folder`` is its name with every
character other than letters, digits, ``.``, ``_`` and ``-`` replaced by ``-``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from classicseg import catalog, registry
from classicseg.config import PipelineSpec, preset_names, resolve, validate
from classicseg.errors import ConfigError

__all__ = ["Method", "resolve_method", "resolve_methods", "split_methods", "folder_name", "method_names"]

PIPELINE_SUFFIXES = (".yaml", ".yml", ".toml")


@dataclass(frozen=True)
class Method:
    """One method of a comparison.

    Attributes
    ----------
    name : str
        As the user wrote it (the label in every table).
    folder : str
        Its output folder under the comparison's folder.
    kind : str
        ``preset``, ``stage`` or ``file``.
    source : str
        The preset or stage name, or the pipeline file's path.
    spec : PipelineSpec
        The validated pipeline (named after the method).
    """

    name: str
    folder: str
    kind: str
    source: str
    spec: PipelineSpec


def folder_name(name: str) -> str:
    """A method's output folder: ``bgsub.bgslibrary:SuBSENSE`` -> ``bgsub.bgslibrary-SuBSENSE``."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", name).strip(".") or "method"


def split_methods(text: str) -> list[str]:
    """``"a, b,c"`` -> ``["a", "b", "c"]`` (empty items dropped)."""
    return [t.strip() for t in str(text).split(",") if t.strip()]


def _aliases() -> dict[str, str]:
    """The last part of a stage name when it names one stage only: ``mog2`` -> ``bgsub.mog2``."""
    by_tail: dict[str, list[str]] = {}
    for n in catalog.names():
        by_tail.setdefault(n.rsplit(".", 1)[-1], []).append(n)
    return {tail: names[0] for tail, names in by_tail.items() if len(names) == 1}


def method_names() -> list[str]:
    """Every name that is a method by itself: presets, stage names and their short forms."""
    return sorted(set(preset_names()) | set(catalog.names()) | set(_aliases()))


def _shortcut(cls) -> str | None:
    name = getattr(cls, "shortcut", None)
    if name:
        return name
    return "algorithm" if "algorithm" in cls.Params.model_fields else None


def _stage_method(text: str, stage: str, value: str | None) -> tuple[PipelineSpec, str]:
    cls = catalog.get(stage)
    step: dict = {"stage": stage}
    if value is not None:
        key = _shortcut(cls)
        if key is None:
            raise ConfigError(f"method {text!r}: stage {stage} has no shortcut parameter (only stages with an "
                              f"'algorithm' parameter take STAGE:VALUE); write a pipeline file to set its parameters")
        import yaml

        try:
            step[key] = yaml.safe_load(value) if value.strip() else value
        except yaml.YAMLError:
            step[key] = value
    try:
        spec = validate({"name": text, "pipeline": [step]}, origin=f"method {text!r}")
    except ConfigError as exc:
        raise ConfigError([e if e.startswith("method ") else f"method {text!r}: {e}" for e in exc.errors]) from None
    return spec, stage


def resolve_method(text: str) -> Method:
    """One method from its text (see the module docstring).

    Raises
    ------
    ConfigError
        An unknown name (with the nearest valid one), a missing pipeline file, an invalid
        pipeline, a stage that cannot run alone (its message names what it needs).
    """
    text = str(text).strip()
    if not text:
        raise ConfigError("empty method name")
    looks_like_file = text.lower().endswith(PIPELINE_SUFFIXES) or "/" in text or "\\" in text
    if looks_like_file:
        path = Path(text)
        if not path.is_file():
            raise ConfigError(f"method {text!r}: pipeline file not found")
        spec = resolve(config=str(path))
        return Method(path.stem, folder_name(path.stem), "file", str(path), replace(spec, name=path.stem))
    if text in preset_names():
        return Method(text, folder_name(text), "preset", text, replace(resolve(preset=text), name=text))
    stage, colon, value = text.partition(":")
    names = set(catalog.names())
    full = stage if stage in names else _aliases().get(stage)
    if full is not None:
        spec, source = _stage_method(text, full, value if colon else None)
        return Method(text, folder_name(text), "stage", source, spec)
    hint = registry.nearest(stage if colon else text, method_names())
    raise ConfigError(f"unknown method {text!r}{hint}: a method is a preset ({', '.join(preset_names())}), "
                      f"a stage name (classicseg stages) or a pipeline file (.yaml/.toml)")


def resolve_methods(texts) -> list[Method]:
    """Several methods; every problem is reported at once.

    Raises
    ------
    ConfigError
        Unknown or invalid methods, no method, or two methods that would share an output
        folder.
    """
    if isinstance(texts, str):
        texts = split_methods(texts)
    methods, errors = [], []
    for t in texts:
        try:
            methods.append(resolve_method(t))
        except ConfigError as exc:
            errors += exc.errors
    if not texts:
        errors.append("no method given (e.g. --methods surveillance,bgsub.mog2)")
    seen: dict[str, str] = {}
    for m in methods:
        if m.folder in seen:
            errors.append(f"methods {seen[m.folder]!r} and {m.name!r} would both write to folder {m.folder}; "
                          "give each method once (rename a pipeline file)")
        seen[m.folder] = m.name
    if errors:
        raise ConfigError(errors)
    return methods
