"""The ``watch.yaml`` file: its schema, and the checks made before anything starts.

Every problem in the file is reported at once (as pipeline files are), each naming the
camera and the key: unknown keys (with the nearest valid name), two cameras with one name,
a pipeline that does not validate, an input file that does not exist, a zone outside a
video's frame. What needs the machine (a port in use, an unwritable storage folder, a
database that cannot be reached) is checked by :func:`classicseg.watch.service.preflight`.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from classicseg.config import PipelineSpec, _describe, resolve, with_events
from classicseg.errors import ConfigError

__all__ = ["CameraConfig", "WatchConfig", "load", "check", "camera_spec", "parse_http", "database_url",
           "is_stream", "redact"]

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_STREAMS = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")


class CameraConfig(BaseModel):
    """One camera (the keys under ``cameras: <name>:``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: str | int = Field(description="camera index (0), RTSP/HTTP URL, or video file (played at its frame rate)")
    preset: str | None = Field(None, description="shipped pipeline (default: surveillance)")
    pipeline: str | None = Field(None, description="your own pipeline file instead of a preset")
    set: list[str] = Field(default_factory=list, description="overrides STAGE.PARAM=VALUE, as classicseg run --set")
    loop: bool = Field(False, description="video files only: start again at the end")
    enabled: bool = Field(True, description="false: keep the camera in the file but do not run it")
    threshold: float = Field(0.005, gt=0, le=1, description="foreground share of the frame (or zone) that is motion")
    min_frames: int = Field(2, ge=1, le=1000, description="frames in a row with motion before an event starts")
    trigger: Literal["auto", "foreground", "objects"] = Field(
        "auto", description="motion is foreground, tracked objects, or auto (objects when the pipeline tracks)")
    event_gap: float = Field(2.0, ge=0, le=3600, description="seconds without motion that end an event")
    warmup: float = Field(2.0, ge=0, le=600, description="seconds after a (re)start in which no event starts")
    pre_capture: float = Field(2.0, ge=0, le=60, description="seconds of video before an event in its clip")
    post_capture: float = Field(3.0, ge=0, le=600, description="seconds of video after an event in its clip")
    max_clip: float = Field(300.0, ge=1, le=3600, description="seconds: a longer event is kept in parts of this "
                                                              "length, each with its own clip and row")
    clip_overlay: bool = Field(False, description="clips show the mask overlay, zones and ids (else the plain frames)")
    zones: dict[str, list[tuple[float, float]]] = Field(
        default_factory=dict, description="name: [[x, y], ...] polygons in pixels; zone events (and enter/leave/dwell "
                                          "when the pipeline tracks)")
    dwell_frames: int = Field(250, ge=1, description="tracked object still in a zone this many frames: 'dwell'")
    max_storage_gb: float | None = Field(None, gt=0, description="clips and snapshots beyond this: oldest go first")
    max_age_days: float | None = Field(None, gt=0, description="events older than this go, with their files")
    on_event_start: str | list[str] | None = Field(
        None, description="command (event JSON on stdin) or http(s) URL to POST the event to, when an event starts")
    on_event_end: str | list[str] | None = Field(None, description="the same when an event ends")
    hook_timeout: float = Field(10.0, gt=0, le=3600, description="seconds a hook may take before it is killed")
    stall_timeout: float = Field(60.0, ge=5, le=86400, description="no frame for this long: restart the camera")
    live_fps: float = Field(10.0, gt=0, le=60, description="frames/s of the live stream while someone watches")
    threads: int = Field(1, ge=0, le=64, description="OpenCV threads of this camera's process")

    @field_validator("zones")
    @classmethod
    def _zones(cls, v):
        for name, poly in v.items():
            if len(poly) < 3:
                raise ValueError(f"zone {name!r} needs at least 3 points, got {len(poly)}")
        return v


class WatchConfig(BaseModel):
    """The whole file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    storage: Path = Field(description="folder for clips/, snapshots/ and events.db")
    database: str = Field("sqlite", description="sqlite (events.db in storage), sqlite:///path, or a PostgreSQL URL")
    http: str = Field("127.0.0.1:8090", description="HOST:PORT of the live page and the JSON API, or off")
    min_free_gb: float = Field(1.0, ge=0, description="free disk space under which recording pauses")
    restart_delay: float = Field(1.0, gt=0, le=600, description="first wait before restarting a camera process")
    restart_delay_max: float = Field(60.0, gt=0, le=3600, description="longest wait between restarts")
    cameras: dict[str, CameraConfig] = Field(min_length=1, description="camera name: its settings")

    @field_validator("http", mode="before")
    @classmethod
    def _off(cls, v):
        return "off" if v is False or v is None else v  # YAML reads a bare off as false

    def enabled(self) -> dict[str, CameraConfig]:
        return {n: c for n, c in self.cameras.items() if c.enabled}


# -- loading ---------------------------------------------------------------------
class _Loader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice in one mapping (two cameras with one name)."""


def _no_duplicates(loader: _Loader, node, deep=False):
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            loader.duplicates.append(f"{key!r} is given twice (lines {seen[key] + 1} and {key_node.start_mark.line + 1})")
        else:
            seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def is_stream(value) -> bool:
    return isinstance(value, str) and value.startswith(_STREAMS)


def _is_camera_index(value) -> bool:
    return isinstance(value, int) or (isinstance(value, str) and value.isdigit())


def redact(url: str) -> str:
    """A URL without its password (``rtsp://user:***@host/``), for logs and the API."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", str(url))


def parse_http(value: str) -> tuple[str, int] | None:
    """``HOST:PORT`` -> (host, port); ``off`` -> None."""
    if str(value).strip().lower() in ("off", "false", "no", "none", ""):
        return None
    host, sep, port = str(value).rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"http: expected HOST:PORT (e.g. 127.0.0.1:8090) or off, got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def database_url(cfg: WatchConfig) -> str:
    """The SQLAlchemy URL: ``sqlite`` is ``events.db`` in the storage folder."""
    db = cfg.database.strip()
    if db == "sqlite":
        return f"sqlite:///{Path(cfg.storage).resolve() / 'events.db'}"
    if db.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + db.split("://", 1)[1]
    return db


def _check_database(value: str) -> str | None:
    if value == "sqlite" or value.startswith(("sqlite:///", "postgresql://", "postgres://", "postgresql+psycopg://")):
        return None
    return f"database: expected sqlite, sqlite:///FILE or postgresql://USER@HOST/DBNAME, got {value!r}"


def load(path) -> WatchConfig:
    """Read and check ``watch.yaml``; relative paths are taken from the file's folder.

    Raises
    ------
    ConfigError
        With every problem found (see :func:`check`).
    """
    cfg, errors = _parse(path)
    if errors:
        raise ConfigError(errors)
    return cfg


def check(path) -> WatchConfig:
    """:func:`load`, then build every camera's pipeline and probe its video file (a zone must
    lie inside the frame); all problems at once."""
    cfg, errors = _parse(path)
    if cfg is not None:
        for name, cam in cfg.enabled().items():
            try:
                camera_spec(cam)
            except ConfigError as exc:
                errors += [f"cameras.{name}: {e}" for e in exc.errors]
            errors += [f"cameras.{name}: {e}" for e in _probe_zones(cam)]
    if errors:
        raise ConfigError(errors)
    return cfg


def _parse(path) -> tuple[WatchConfig | None, list[str]]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"watch file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    loader = _Loader(text)
    loader.duplicates = []
    try:
        raw = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {str(exc).replace(chr(10), ' ')}") from None
    finally:
        loader.dispose()
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top, got {type(raw).__name__}")
    errors = [f"{path}: {d}" for d in loader.duplicates]
    base = path.resolve().parent
    raw = dict(raw)
    if isinstance(raw.get("storage"), str):
        raw["storage"] = str(base / Path(raw["storage"]).expanduser())
    cams = raw.get("cameras")
    if isinstance(cams, dict):
        fixed = {}
        for name, cam in cams.items():
            if not NAME.match(str(name)):
                errors.append(f"cameras: name {name!r}: use letters, digits, '_', '-' or '.' (it goes into URLs)")
            if isinstance(cam, dict):
                cam = dict(cam)
                inp = cam.get("input")
                if isinstance(inp, str) and not is_stream(inp) and not inp.isdigit():
                    cam["input"] = str(base / Path(inp).expanduser())
                if isinstance(cam.get("pipeline"), str):
                    cam["pipeline"] = str(base / Path(cam["pipeline"]).expanduser())
            fixed[str(name)] = cam
        raw["cameras"] = fixed
    cfg = None
    try:
        cfg = WatchConfig(**raw)
    except ValidationError as exc:
        fields = list(WatchConfig.model_fields) + list(CameraConfig.model_fields)
        for e in exc.errors():
            loc = list(e["loc"])
            if e["type"] == "extra_forbidden":
                where = ".".join(str(x) for x in loc[:-1])
                from classicseg.registry import nearest

                errors.append(f"{where + ': ' if where else ''}unknown key {str(loc[-1])!r}{nearest(str(loc[-1]), fields)}")
            else:
                errors.append(_describe(e, fields)[1])
    except TypeError as exc:
        return None, errors + [f"{path}: {exc}"]
    # the checks across keys, also for the parts that validated when others did not
    db = raw.get("database", "sqlite")
    msg = _check_database(db) if isinstance(db, str) else None
    if msg:
        errors.append(msg)
    http = raw.get("http", "127.0.0.1:8090")
    if isinstance(http, (str, int)) and http is not False:
        try:
            parse_http(str(http))
        except ValueError as exc:
            errors.append(str(exc))
    cameras = cfg.cameras if cfg is not None else {}
    if cfg is None and isinstance(cams, dict):
        for name, cam in raw["cameras"].items():
            try:
                cameras[name] = CameraConfig(**cam) if isinstance(cam, dict) else None
            except (ValidationError, TypeError):
                pass
    for name, cam in cameras.items():
        if cam is None:
            continue
        where = f"cameras.{name}"
        if cam.preset and cam.pipeline:
            errors.append(f"{where}: give preset or pipeline, not both")
        if _is_camera_index(cam.input):
            if cam.loop:
                errors.append(f"{where}: loop is for video files, not a camera")
        elif is_stream(cam.input):
            if cam.loop:
                errors.append(f"{where}: loop is for video files, not a stream")
        elif not Path(cam.input).is_file():
            errors.append(f"{where}: input not found: {cam.input}")
        if cam.pipeline and not Path(cam.pipeline).is_file():
            errors.append(f"{where}: pipeline file not found: {cam.pipeline}")
    if cfg is None:
        return None, errors
    if not cfg.enabled():
        errors.append("cameras: every camera is disabled")
    return cfg, errors


def camera_spec(cam: CameraConfig) -> PipelineSpec:
    """The camera's pipeline: its preset or file with its overrides, its zones and an
    ``events.motion`` step with its threshold and event gap; a video file is played at its
    own frame rate (and looped on request) and, like a camera, drops frames when the
    pipeline falls behind."""
    from dataclasses import replace

    spec = resolve(None if cam.pipeline else (cam.preset or "surveillance"), cam.pipeline, tuple(cam.set))
    zones = [{"name": n, "polygon": [list(p) for p in poly]} for n, poly in cam.zones.items()]
    spec = with_events(spec, zones, dwell_frames=cam.dwell_frames, threshold=cam.threshold,
                       min_frames=cam.min_frames, event_gap=cam.event_gap, trigger=cam.trigger, warmup=cam.warmup)
    video = not (_is_camera_index(cam.input) or is_stream(cam.input))
    # live: a pipeline that falls behind drops frames (counted) rather than lagging; up to 5 frames
    # (half a second at 10 frames/s) may wait, so a slow frame now and then costs no frame
    source = spec.source.model_copy(update={"live": True, "live_buffer": max(spec.source.live_buffer, 5),
                                            "realtime": video, "loop": cam.loop and video})
    return replace(spec, source=source)


def _probe_zones(cam: CameraConfig) -> list[str]:
    """Zones outside a video file's frame (cameras and streams are checked on their first frame)."""
    if not cam.zones or _is_camera_index(cam.input) or is_stream(cam.input) or not Path(cam.input).is_file():
        return []
    import cv2

    cap = cv2.VideoCapture(str(cam.input))
    try:
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    finally:
        cap.release()
    if not (w and h):
        return [f"input {cam.input}: cannot read its frame size"]
    out = []
    for name, poly in cam.zones.items():
        for x, y in poly:
            if not (0 <= x <= w and 0 <= y <= h):
                out.append(f"zone {name!r}: point ({x:g}, {y:g}) lies outside the {w}x{h} frame")
                break
    return out
