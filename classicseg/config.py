"""Pipeline files (YAML or TOML) -> a validated :class:`PipelineSpec`.

A pipeline file looks like::

    name: surveillance
    source:                  # optional: how frames are read
      max_bad_frames: 10
    pipeline:                # the stages, in order
      - stage: bgsub.mog2    # registry name (``classicseg stages`` lists them)
        var_threshold: 16    # any of the stage's parameters
      - stage: morph.open
        id: speck_removal    # optional: the name --set uses (default: the stage name)
        radius: 1

Validation happens before the first frame is decoded and reports every problem in
the file at once: unknown stages, parameters and top-level keys (with the nearest
valid name), wrong types, out-of-range values, and stages whose input slot no
earlier stage provides. Precedence: ``--set`` > file > stage defaults.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from classicseg import catalog, registry
from classicseg.errors import ConfigError
from classicseg.stage import Params, Stage, check_chain
from classicseg.types import SLOTS

TOP_KEYS = ("name", "description", "backend", "source", "pipeline")
BACKENDS = ("auto", "cpu", "cuda")  # classicseg.backends.BACKENDS (not imported here: no cv2.cuda probe)
PRESET_DIR = "presets"


class SourceOptions(BaseModel):
    """How frames are read (the ``source:`` section)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    max_bad_frames: int = Field(10, ge=1, le=1_000_000, description="give up after this many undecodable frames in a row")
    prefetch: int = Field(8, ge=0, le=256, description="frames decoded ahead in a reader thread (0 = none)")
    open_timeout_ms: int = Field(10000, ge=100, le=3_600_000, description="camera/stream open timeout")
    read_timeout_ms: int = Field(10000, ge=100, le=3_600_000, description="camera/stream read timeout")
    live: bool = Field(False, description="camera/stream: keep only the newest frame when processing lags (counts drops)")
    live_buffer: int = Field(1, ge=1, le=256, description="live: frames that may wait before the oldest is dropped "
                                                          "(absorbs jitter at the cost of latency)")
    reconnect: bool = Field(True, description="camera/stream: reopen after a failed read or a stall")
    reconnect_delay_s: float = Field(1.0, gt=0, le=60, description="first wait before reopening (doubles up to 30 s)")
    give_up_after_s: float | None = Field(None, gt=0, le=10**9, description="stop when no frame came for this long (null = never)")
    realtime: bool = Field(False, description="video file: play it at its own frame rate, as a camera would deliver it")
    loop: bool = Field(False, description="video file: start again at the end (frame numbers and stream time go on)")


@dataclass(frozen=True)
class StepSpec:
    id: str
    stage: type[Stage]
    params: Params

    def build(self) -> Stage:
        return self.stage(self.params)


@dataclass
class PipelineSpec:
    steps: list[StepSpec]
    source: SourceOptions = field(default_factory=SourceOptions)
    name: str = "pipeline"
    description: str = ""
    backend: str = "cpu"

    @property
    def inputs(self) -> tuple[str, ...]:
        """Slots besides ``image`` that must come with the frames (``prior`` for ``prior.fuse``):
        read by a step before any earlier step provides them."""
        have, out = {"image"}, []
        for s in self.steps:
            out += [r for r in s.stage.requires if r not in have and r not in out]
            have |= set(s.stage.provided(s.params))
        return tuple(out)

    @property
    def slots(self) -> set[str]:
        """Every slot the steps write."""
        return {slot for s in self.steps for slot in s.stage.provided(s.params)}

    @property
    def needs(self) -> tuple[str, ...]:
        """What the steps need from a run besides the frames (``init_mask``)."""
        return tuple(dict.fromkeys(n for s in self.steps for n in s.stage.needs))

    def to_dict(self) -> dict:
        """The spec as a plain config mapping (round-trips through :func:`validate`)."""
        pipeline = []
        for s in self.steps:
            d: dict[str, Any] = {"stage": s.stage.name}
            if s.id != s.stage.name:
                d["id"] = s.id
            d.update(s.params.model_dump())
            pipeline.append(d)
        out: dict[str, Any] = {"name": self.name}
        if self.description:
            out["description"] = self.description
        if self.backend != "cpu":
            out["backend"] = self.backend
        out["source"] = self.source.model_dump()
        out["pipeline"] = pipeline
        return out


# -- loading ---------------------------------------------------------------------
#: Limits on a pipeline file: its size, how deeply it nests, and how many values it holds
#: once YAML aliases are expanded (a "billion laughs" file is a few hundred bytes).
MAX_CONFIG_BYTES = 1 << 20
MAX_CONFIG_DEPTH = 32
MAX_CONFIG_VALUES = 100_000


#: PyYAML's safe loader, on libyaml when PyYAML was built with it (much faster)
_SAFE_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _SafeLoader(_SAFE_BASE):
    """PyYAML's safe loader that refuses duplicate keys (the last one would win silently)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = key_node.value
                if key in seen:
                    raise ConfigError(f"duplicate key {key!r} on line {key_node.start_mark.line + 1} (first on line "
                                      f"{seen[key] + 1})")
                seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


_SafeLoader.add_constructor("tag:yaml.org,2002:map", _SafeLoader.construct_yaml_map)


def _yaml_limits(text: str) -> None:
    """Refuse YAML that nests deeper than :data:`MAX_CONFIG_DEPTH` (read as events, without
    recursion) or expands to more than :data:`MAX_CONFIG_VALUES` values through aliases."""
    depth = 0
    for ev in yaml.parse(text, Loader=_SAFE_BASE):
        if isinstance(ev, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_CONFIG_DEPTH:
                raise ConfigError(f"nested more than {MAX_CONFIG_DEPTH} levels deep (line {ev.start_mark.line + 1})")
        elif isinstance(ev, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1


def _expanded_size(node, memo: dict, active: set) -> int:
    """Values in ``node`` with every alias expanded (memoised: linear in the file, not in the expansion)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise ConfigError("a YAML alias refers to a node that contains it (recursive structure)")
    active.add(key)
    n = 1
    if isinstance(node, yaml.SequenceNode):
        n += sum(_expanded_size(c, memo, active) for c in node.value)
    elif isinstance(node, yaml.MappingNode):
        n += sum(_expanded_size(k, memo, active) + _expanded_size(v, memo, active) for k, v in node.value)
    active.discard(key)
    memo[key] = n
    if n > MAX_CONFIG_VALUES:
        raise ConfigError(f"holds more than {MAX_CONFIG_VALUES} values once its aliases are expanded")
    return n


def safe_yaml(text: str):
    """YAML text as Python data: safe tags only, no duplicate keys, bounded depth and size.

    Raises
    ------
    ConfigError
        (without the origin) for a limit or a duplicate key; ``yaml.YAMLError`` for bad syntax.
    """
    _yaml_limits(text)
    loader = _SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, {}, set())
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _data_depth(data) -> int:
    """How deeply ``data`` nests (lists and dicts), without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        obj, d = stack.pop()
        if isinstance(obj, (list, dict)):
            deepest = max(deepest, d)
            if deepest > MAX_CONFIG_DEPTH:
                return deepest
            stack.extend((v, d + 1) for v in (obj.values() if isinstance(obj, dict) else obj))
    return deepest


def parse_text(text: str, fmt: str, origin: str) -> dict:
    """YAML or TOML text -> the raw config mapping (safe: no code, bounded size and depth)."""
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{origin}: larger than {MAX_CONFIG_BYTES // 1024} KiB: not a pipeline file")
    try:
        data = tomllib.loads(text) if fmt == "toml" else safe_yaml(text)
    except ConfigError as exc:
        raise ConfigError(f"{origin}: {exc}") from None
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        detail = " ".join(str(exc).split())
        raise ConfigError(f"{origin}: not valid {fmt.upper()}: {detail}") from None
    except RecursionError:
        raise ConfigError(f"{origin}: nested more than {MAX_CONFIG_DEPTH} levels deep") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping at the top, got {type(data).__name__}")
    if _data_depth(data) > MAX_CONFIG_DEPTH:
        raise ConfigError(f"{origin}: nested more than {MAX_CONFIG_DEPTH} levels deep")
    return data


def load_file(path) -> dict:
    """Read a YAML (``.yaml``/``.yml``) or TOML (``.toml``) pipeline file, safely."""
    import stat

    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        raise ConfigError(f"config file not found: {path}") from None
    if not stat.S_ISREG(st.st_mode):
        what = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise ConfigError(f"config {path} is {what}: give a YAML or TOML file")
    if st.st_size > MAX_CONFIG_BYTES:
        raise ConfigError(f"config {path} is larger than {MAX_CONFIG_BYTES // 1024} KiB: not a pipeline file")
    fmt = "toml" if path.suffix.lower() == ".toml" else "yaml"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from None
    return parse_text(text, fmt, str(path))


def preset_names() -> list[str]:
    files = resources.files("classicseg").joinpath(PRESET_DIR).iterdir()
    return sorted(f.name[:-5] for f in files if f.name.endswith(".yaml"))


def load_preset(name: str) -> dict:
    names = preset_names()
    if name not in names:
        raise ConfigError(f"unknown preset {name!r}{registry.nearest(name, names)}; presets: {', '.join(names)}")
    text = resources.files("classicseg").joinpath(PRESET_DIR, f"{name}.yaml").read_text(encoding="utf-8")
    return parse_text(text, "yaml", f"preset {name}")


# -- overrides -------------------------------------------------------------------
def _step_ids(pipeline: list) -> list[str]:
    """The id of each step: its ``id`` key, else its stage name (``name#2`` for repeats)."""
    ids, seen = [], {}
    for step in pipeline:
        if isinstance(step, dict) and step.get("id"):
            ids.append(str(step["id"]))
            continue
        base = str(step.get("stage")) if isinstance(step, dict) else "?"
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return ids


def apply_overrides(raw: dict, sets: list[str]) -> dict:
    """Apply ``STEP_ID.param=value`` (or ``source.key=value``) overrides to a raw config.

    Values are parsed as YAML scalars/lists (``true``, ``3``, ``0.5``, ``[1, 2]``).
    """
    raw = dict(raw)
    pipeline = [dict(s) if isinstance(s, dict) else s for s in raw.get("pipeline") or []]
    raw["pipeline"] = pipeline
    errors = []
    for item in sets:
        target, eq, value = item.partition("=")
        step_id, dot, key = target.strip().rpartition(".")
        if not eq or not dot or not key:
            errors.append(f"--set {item!r}: expected STAGE.PARAM=VALUE, e.g. bgsub.mog2.var_threshold=24")
            continue
        try:
            parsed = safe_yaml(value) if value.strip() else ""
        except yaml.YAMLError:
            parsed = value
        except ConfigError as exc:
            errors.append(f"--set {item!r}: {exc}")
            continue
        if step_id == "source":
            raw["source"] = {**(raw.get("source") or {}), key: parsed}
            continue
        ids = _step_ids(pipeline)
        if step_id not in ids:
            errors.append(
                f"--set {item!r}: no stage {step_id!r} in this pipeline{registry.nearest(step_id, ids)}; "
                f"stages: {', '.join(ids)}"
            )
            continue
        pipeline[ids.index(step_id)][key] = parsed
    if errors:
        raise ConfigError(errors)
    return raw


# -- validation ------------------------------------------------------------------
def _describe(err: dict, fields) -> tuple[str, str]:
    loc = ".".join(str(x) for x in err["loc"])
    if err["type"] == "extra_forbidden":
        return loc, f"unknown parameter {loc!r}{registry.nearest(loc, fields)}"
    if err["type"] == "missing":
        return loc, f"{loc}: required"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    where = f"{loc}: " if loc else ""
    if err["type"] in ("value_error", "assertion_error") or not loc:
        return loc, f"{where}{msg}"
    return loc, f"{where}{msg[0].lower() + msg[1:]}, got {err['input']!r}"


def _params_errors(model: type[BaseModel], values: dict) -> tuple[BaseModel | None, list[str]]:
    try:
        return model(**values), []
    except ValidationError as exc:
        fields = list(model.model_fields)
        return None, [_describe(e, fields)[1] for e in exc.errors()]
    except TypeError as exc:  # non-string keys
        return None, [str(exc)]


def validate(raw: dict, origin: str = "config", initial_slots=None) -> PipelineSpec:
    """Check a raw config mapping and build the :class:`PipelineSpec`.

    ``initial_slots`` are the slots that come with the frames (default: every source slot
    of :data:`classicseg.types.SLOTS`, i.e. ``image`` and ``prior``: whether a run that
    needs a prior is given one is checked when it starts, see :attr:`PipelineSpec.inputs`).

    Raises
    ------
    ConfigError
        With every problem found, each naming the stage, the key and the nearest
        valid name.
    """
    if initial_slots is None:
        initial_slots = tuple(n for n, slot in SLOTS.items() if slot.source)
    errors: list[str] = []
    for key in raw:
        if key not in TOP_KEYS:
            errors.append(f"{origin}: unknown top-level key {key!r}{registry.nearest(key, TOP_KEYS)}")

    backend = raw.get("backend", "cpu")
    if backend not in BACKENDS:
        errors.append(f"{origin}: backend must be one of {', '.join(BACKENDS)}, got {backend!r}"
                      f"{registry.nearest(str(backend), BACKENDS)}")
        backend = "cpu"

    source = SourceOptions()
    src_raw = raw.get("source") or {}
    if not isinstance(src_raw, dict):
        errors.append(f"{origin}: source must be a mapping, got {type(src_raw).__name__}")
    else:
        parsed, errs = _params_errors(SourceOptions, src_raw)
        errors += [f"{origin}: source: {e}" for e in errs]
        source = parsed or source

    pipeline = raw.get("pipeline")
    steps: list[StepSpec] = []
    if not isinstance(pipeline, list) or not pipeline:
        errors.append(f"{origin}: 'pipeline' must be a non-empty list of stages")
        pipeline = []
    ids = _step_ids(pipeline)
    chain: list[tuple[str, type[Stage], Params | None]] = []
    for i, (step, sid) in enumerate(zip(pipeline, ids), start=1):
        where = f"stage {i}"
        if not isinstance(step, dict) or "stage" not in step:
            errors.append(f"{where}: expected a mapping with a 'stage' key, got {step!r}")
            continue
        name = str(step["stage"])
        where = f"stage {i} ({name})"
        try:
            cls = catalog.get(name)
        except ConfigError as exc:
            errors.append(f"stage {i}: {exc}")
            continue
        values = {k: v for k, v in step.items() if k not in ("stage", "id")}
        params, errs = _params_errors(cls.Params, values)
        errors += [f"{where}: {e}" for e in errs]
        chain.append((where, cls, params))
        if params is not None:
            steps.append(StepSpec(sid, cls, params))
    errors += check_chain(chain, initial_slots, catalog.providers)
    if errors:
        raise ConfigError(errors)
    return PipelineSpec(steps, source, str(raw.get("name") or "pipeline"), str(raw.get("description") or ""),
                        backend)


def resolve(preset: str | None = None, config: str | None = None, sets=()) -> PipelineSpec:
    """Preset or file, then ``--set`` overrides, then validation."""
    if preset and config:
        raise ConfigError("give --preset or --config, not both")
    if config:
        raw, origin = load_file(config), str(config)
    else:
        raw, origin = load_preset(preset or "surveillance"), f"preset {preset or 'surveillance'}"
    if sets:
        raw = apply_overrides(raw, list(sets))
    return validate(raw, origin)


def with_prior_fuse(spec: PipelineSpec, weight: float = 1.0, confidence: float = 0.9) -> PipelineSpec:
    """``spec`` with a ``prior.fuse`` step right after the first step that provides ``prob``
    (``vos.propagate``: so between it and ``refine.graphcut``), unless a step already reads
    the prior.

    Raises
    ------
    ConfigError
        The pipeline has no stage that provides ``prob`` (a prior has nothing to fuse
        with that a later stage would use).
    """
    from dataclasses import replace

    if "prior" in spec.inputs:
        return spec
    at = next((i for i, s in enumerate(spec.steps) if "prob" in s.stage.provided(s.params)), None)
    if at is None:
        raise ConfigError(f"--prior: pipeline {spec.name!r} has no stage that computes a probability to fuse the "
                          f"prior with (use --preset refine or --preset vos)")
    cls = catalog.get("prior.fuse")
    step = StepSpec("prior.fuse", cls, cls.Params(weight=weight, confidence=confidence))
    return replace(spec, steps=[*spec.steps[:at + 1], step, *spec.steps[at + 1:]])


def with_events(spec: PipelineSpec, zones=(), dwell_frames: int | None = None, **motion) -> PipelineSpec:
    """``spec`` with an ``events.motion`` step at the end (motion events from its foreground,
    or its tracks; with ``motion`` as that step's parameters and ``zones`` as its zones) and,
    when the pipeline tracks and ``zones`` are given, an ``events.zones`` step before it
    (enter/leave/dwell). Steps the spec already has are kept as they are.

    Raises
    ------
    ConfigError
        The pipeline writes no foreground mask to find motion in, or a parameter is invalid.
    """
    from dataclasses import replace

    names = {s.stage.name for s in spec.steps}
    steps = list(spec.steps)
    if zones and "tracks" in spec.slots and "events.zones" not in names:
        cls = catalog.get("events.zones")
        extra = {"dwell_frames": dwell_frames} if dwell_frames is not None else {}
        params, errs = _params_errors(cls.Params, {"zones": list(zones), **extra})
        if errs:
            raise ConfigError([f"events.zones: {e}" for e in errs])
        steps.append(StepSpec("events.zones", cls, params))
    if "events.motion" not in names:
        if "fg" not in spec.slots:
            raise ConfigError(f"pipeline {spec.name!r} writes no foreground mask (fg): no motion to make events of")
        cls = catalog.get("events.motion")
        params, errs = _params_errors(cls.Params, {"zones": list(zones), **motion})
        if errs:
            raise ConfigError([f"events.motion: {e}" for e in errs])
        steps.append(StepSpec("events.motion", cls, params))
    return replace(spec, steps=steps)


def zones_of(spec: PipelineSpec) -> list[tuple[str, list]]:
    """The ``(name, polygon)`` of every zone the steps use (drawn on overlays)."""
    out: dict[str, list] = {}
    for s in spec.steps:
        for z in getattr(s.params, "zones", None) or ():
            out.setdefault(z.name, [list(p) for p in z.polygon])
    return list(out.items())


# -- documentation ---------------------------------------------------------------
def _yaml_value(v) -> str:
    return yaml.safe_dump(v, default_flow_style=True).strip().removesuffix("...").strip()


class _Required:
    """The default of a parameter that has none (shown as ``required``)."""

    def __repr__(self) -> str:
        return "required"

    __str__ = __repr__


#: what :func:`describe_params` gives as the default of a required parameter
REQUIRED = _Required()


def _type_name(annotation) -> str:
    """``list[Zone]``, ``float | None``: the annotation without module paths."""
    import re

    name = getattr(annotation, "__name__", None)
    if name and not getattr(annotation, "__args__", None):
        return name
    return re.sub(r"\b(?:[A-Za-z_]\w*\.)+([A-Za-z_]\w*)", r"\1", str(annotation))


def describe_params(model: type[BaseModel]) -> list[tuple[str, Any, str, str]]:
    """``(name, default, type, doc)`` for every parameter of a Params model (the default of a
    required parameter is :data:`REQUIRED`)."""
    rows = []
    for name, f in model.model_fields.items():
        ann = _type_name(f.annotation)
        constraints = []
        for m in f.metadata:
            for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
                if getattr(m, attr, None) is not None:
                    constraints.append(f"{sym}{getattr(m, attr)}")
        doc = f.description or ""
        if constraints:
            doc = f"{doc} [{', '.join(constraints)}]"
        rows.append((name, REQUIRED if f.is_required() else f.get_default(call_default_factory=True), ann, doc))
    return rows


def commented_config(spec: PipelineSpec) -> str:
    """A complete pipeline file for ``spec``: every parameter, each with its doc."""
    lines = [
        f"# classicseg pipeline: {spec.name}",
        "# Every parameter is listed with its value; delete the ones you keep at the default.",
        "# `classicseg stages` lists all stages; --set STAGE.PARAM=VALUE overrides one value.",
        f"name: {spec.name}",
    ]
    if spec.description:
        lines.append(f"description: {_yaml_value(spec.description)}")
    lines.append(f"backend: {spec.backend}  # where stages run: auto, cpu or cuda (OpenCV built with CUDA)")
    lines.append("source:")
    for name, _, _, doc in describe_params(SourceOptions):
        lines.append(f"  {name}: {_yaml_value(getattr(spec.source, name))}  # {doc}")
    lines.append("pipeline:")
    for s in spec.steps:
        lines.append(f"  # {s.stage.doc()}")
        lines.append(f"  - stage: {s.stage.name}")
        if s.id != s.stage.name and "#" not in s.id:
            lines.append(f"    id: {s.id}")
        for name, _, _, doc in describe_params(s.stage.Params):
            lines.append(f"    {name}: {_yaml_value(getattr(s.params, name))}  # {doc}")
    others = [n for n in catalog.names() if n not in {s.stage.name for s in spec.steps}]
    lines.append("# Other stages: " + ", ".join(others))
    return "\n".join(lines) + "\n"
