import socket

import pytest

pytest.importorskip("sqlalchemy", reason="classicseg[watch] is not installed")
pytest.importorskip("tornado", reason="classicseg[watch] is not installed")

from classicseg.cli import main
from classicseg.errors import ConfigError
from classicseg.watch import config as wconfig
from classicseg.watch.service import preflight
from tests.watch.conftest import camera_yaml, free_port, write_config


def test_a_good_file_checks_and_builds_the_camera_pipeline(tmp_path, scene_video, capsys):
    p = write_config(tmp_path, camera_yaml("road", scene_video, zones={"door": [[0, 0], [100, 0], [100, 80]]},
                                           loop=True))
    assert main(["watch", "--check", str(p)]) == 0
    assert "ok (1 camera(s): road" in capsys.readouterr().out
    cfg = wconfig.load(p)
    spec = wconfig.camera_spec(cfg.cameras["road"])
    assert [s.stage.name for s in spec.steps][-1] == "events.motion"
    assert spec.source.realtime and spec.source.loop and spec.source.live
    assert cfg.http == "off" and cfg.database == "sqlite"
    assert wconfig.database_url(cfg) == f"sqlite:///{tmp_path / 'store' / 'events.db'}"


def test_every_error_at_once(tmp_path, scene_video, capsys):
    text = (f"storage: {tmp_path}/s\nhttp: 127.0.0.1:99999\ndatabase: mysql://x\ncameras:\n"
            + camera_yaml("road", scene_video, zones={"far": [[0, 0], [500, 0], [500, 50]]})
            + camera_yaml("road", scene_video)
            + camera_yaml("gone", tmp_path / "missing.mp4")
            + camera_yaml("cam", 0, loop=True)
            + camera_yaml("typo", scene_video) + "    inptu: 3\n")
    p = tmp_path / "watch.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as info:
        wconfig.check(p)
    errors = "\n".join(info.value.errors)
    assert "'road' is given twice" in errors
    assert "unknown key 'inptu' (did you mean 'input'?)" in errors
    assert "http: expected HOST:PORT" in errors and "database: expected sqlite" in errors
    assert "cameras.gone: input not found" in errors and "cameras.cam: loop is for video files" in errors
    assert main(["watch", "--check", str(p)]) == 2
    err = capsys.readouterr().err
    assert "problems:" in err and err.count("\n  - ") >= 5


def test_zone_outside_the_frame_and_bad_pipeline(tmp_path, scene_video):
    p = write_config(tmp_path, camera_yaml("road", scene_video, zones={"far": [[0, 0], [500, 0], [500, 50]]},
                                           set=["morph.median.ksize=4"]))
    with pytest.raises(ConfigError) as info:
        wconfig.check(p)
    errors = "\n".join(info.value.errors)
    assert "cameras.road: zone 'far': point (500, 0) lies outside the 320x240 frame" in errors
    assert "cameras.road: " in errors and "ksize" in errors


def test_port_in_use_storage_unwritable_database_unreachable(tmp_path, scene_video):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        cfg = wconfig.load(write_config(tmp_path, camera_yaml("road", scene_video), port=port))
        with pytest.raises(ConfigError, match=rf"http: cannot listen on 127.0.0.1:{port}: Address already in use"):
            preflight(cfg)
    finally:
        busy.close()
    (tmp_path / "file").write_text("x")
    bad = write_config(tmp_path, camera_yaml("road", scene_video))
    bad.write_text(bad.read_text().replace(f"storage: {tmp_path / 'store'}", f"storage: {tmp_path / 'file' / 'sub'}"))
    with pytest.raises(ConfigError, match=r"^storage: .*file/sub cannot be written: Not a directory"):
        preflight(wconfig.load(bad))
    db = write_config(tmp_path, camera_yaml("road", scene_video), port=free_port(),
                      database=f"postgresql://nobody@127.0.0.1:{free_port()}/nothing")
    with pytest.raises(ConfigError, match=r"^database postgresql://nobody@127.0.0.1:\d+/nothing: cannot connect"):
        preflight(wconfig.load(db))
    assert not (tmp_path / "store" / "events.db").exists()  # nothing was started or written


def test_cli_refuses_before_anything_starts(tmp_path, scene_video, capsys):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        p = write_config(tmp_path, camera_yaml("road", scene_video), port=busy.getsockname()[1])
        assert main(["watch", "-c", str(p)]) == 2
    finally:
        busy.close()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Address already in use" in err[0]


def test_passwords_stay_out_of_logs_and_the_api():
    assert wconfig.redact("rtsp://admin:s3cret@cam/stream") == "rtsp://admin:***@cam/stream"
    assert wconfig.parse_http("off") is None and wconfig.parse_http("0.0.0.0:80") == ("0.0.0.0", 80)
