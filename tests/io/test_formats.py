"""Mask formats in and out (io/formats.py): DAVIS, COCO RLE, CVAT for video 1.1, MOT."""
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from classicseg.errors import ClassicsegError, ConfigError, SourceError
from classicseg.io.formats import (coco_dict, cvat_rle, cvat_xml, export, read_annotations, read_coco, read_cvat,
                                   read_mask_folder, read_mot)
from classicseg.io.masks import read_indexed_mask

pytest.importorskip("pycocotools")


def _items(n=4, h=30, w=40):
    out = []
    for t in range(n):
        ids = np.zeros((h, w), np.uint8)
        ids[5:12, 3 + t:10 + t] = 1
        if t != 2:  # object 3 leaves on frame 2 and comes back
            ids[18:26, 20:24 + t] = 3
        out.append((f"{t:05d}", ids))
    return out


def test_coco_round_trip(tmp_path):
    items = _items()
    d = coco_dict(items)
    assert [im["file_name"] for im in d["images"]] == [f"{t:05d}.jpg" for t in range(4)]
    assert {a["category_id"] for a in d["annotations"]} == {1, 3} and len(d["annotations"]) == 7
    a0 = d["annotations"][0]
    assert a0["bbox"] == [3.0, 5.0, 7.0, 7.0] and a0["area"] == 49.0 and isinstance(a0["segmentation"]["counts"], str)
    path = export("coco", items, tmp_path / "a.json")
    back = read_coco(path, [n for n, _ in items], (30, 40))
    for t, (_, ids) in enumerate(items):
        assert np.array_equal(back[t], ids)
    # polygons are read too
    d["annotations"] = [{"id": 1, "image_id": 2, "category_id": 1,
                         "segmentation": [[3, 5, 12, 5, 12, 12, 3, 12]]}]
    (tmp_path / "poly.json").write_text(json.dumps(d))
    got = read_coco(tmp_path / "poly.json", [n for n, _ in items], (30, 40))
    assert list(got) == [1] and got[1][8, 8] == 1


def test_coco_errors(tmp_path):
    items = _items()
    d = coco_dict(items)
    d["annotations"][0]["image_id"] = 99
    (tmp_path / "bad.json").write_text(json.dumps(d))
    with pytest.raises(SourceError, match="annotation 1 has image_id 99, which is not among the file's images"):
        read_coco(tmp_path / "bad.json", [n for n, _ in items], (30, 40))
    d = coco_dict(items)
    with pytest.raises(SourceError, match=r"image 1 \('00000.jpg'\) is no frame of the input"):
        (tmp_path / "other.json").write_text(json.dumps(d))
        read_coco(tmp_path / "other.json", ["a", "b", "c", "d"], (30, 40))
    (tmp_path / "x.json").write_text("[]")
    with pytest.raises(SourceError, match="not a COCO file"):
        read_coco(tmp_path / "x.json", ["a"], (30, 40))


def test_cvat_round_trip_and_schema(tmp_path):
    items = _items()
    text = cvat_xml(items, "clip")
    root = ET.fromstring(text)
    assert root.tag == "annotations" and root.findtext("version") == "1.1"
    task = root.find("meta/task")
    assert task.findtext("mode") == "interpolation" and task.findtext("size") == "4"
    assert task.findtext("original_size/width") == "40"
    tracks = root.findall("track")
    assert [t.get("label") for t in tracks] == ["object 1", "object 3"]
    m = tracks[1].findall("mask")
    assert [(x.get("frame"), x.get("outside")) for x in m] == [("0", "0"), ("1", "0"), ("2", "1"), ("3", "0")]
    for x in m:  # the attributes of CVAT's published schema for a track's <mask>
        assert set(x.attrib) >= {"frame", "outside", "occluded", "rle", "left", "top", "width", "height", "z_order"}
    path = export("cvat", items, tmp_path / "a.xml")
    back = read_cvat(path, 4, (30, 40))
    for t, (_, ids) in enumerate(items):
        assert np.array_equal(back[t], ids)
    # known answer of the run-length encoding: counts of 0s and 1s alternating from 0s
    mask = np.zeros((4, 5), bool)
    mask[1, 1:3] = mask[2, 2] = True
    assert cvat_rle(mask) == ([0, 2, 1, 1], (1, 1, 2, 2))
    bad = text.replace('frame="3"', 'frame="9"')
    (tmp_path / "bad.xml").write_text(bad)
    with pytest.raises(SourceError, match="has a mask on frame 9, but the input has 4 frames"):
        read_cvat(tmp_path / "bad.xml", 4, (30, 40))


def test_mot_and_davis(tmp_path):
    items = _items()
    path = export("mot", items, tmp_path / "boxes.txt")
    lines = path.read_text().splitlines()
    assert lines[0] == "1,1,3,5,7,7,1,-1,-1,-1" and len(lines) == 7
    seeds = read_mot(path, 4)
    assert seeds[0].boxes == [(1, (3, 5, 7, 7)), (3, (20, 18, 4, 8))]
    with pytest.raises(SourceError, match=r"line 6: frame 4 does not exist \(the input has 3 frames, 1..3 in MOT numbering\)"):
        read_mot(path, 3)
    out = export("davis", items, tmp_path / "masks")
    assert np.array_equal(read_indexed_mask(out / "00001.png"), items[1][1])
    back, names = read_mask_folder(out)
    assert [n for n, _ in back] == [n for n, _ in items] and names is None
    assert set(read_annotations(path, [n for n, _ in items], (30, 40))) == {0, 1, 2, 3}
    with pytest.raises(ConfigError, match="format must be one of"):
        export("yolo", items, tmp_path / "x")
    with pytest.raises(ClassicsegError, match="is a folder, give a file name"):
        export("coco", items, tmp_path)
