"""
Tracking: identities over time
==============================

Foreground masks say *where* something moves; tracking says *which* object it is, frame
after frame. The classical recipe (Bewley et al. 2016, SORT): find the connected
components of the foreground, predict where each known object is now with a Kalman
filter, and match predictions to components by the Hungarian algorithm on a cost that
mixes overlap, distance and colour. An object keeps its number while it is matched;
unmatched components start new tracks, tracks unmatched for too long end.

Where two objects cross, their components merge, and an identity may jump from one to the
other: an *ID switch*, which the MOTChallenge scores (MOTA, IDF1) count.
"""
import matplotlib.pyplot as plt
import numpy as np

from classicseg.config import validate
from classicseg.pipeline import Pipeline
from classicseg.synth import make_scene

scene = make_scene(n_frames=300, seed=4, n_objects=6)
frames = [f for f, _ in scene.frames()]

pipe = Pipeline.from_spec(validate({"name": "blob-tracker", "pipeline": [
    {"stage": "bgsub.mog2", "history": 200},
    {"stage": "morph.open", "radius": 1},
    {"stage": "morph.close", "radius": 3},
    {"stage": "blobs.components", "min_area": 150},
    {"stage": "track.hungarian", "min_hits": 3, "max_missed": 10}]}))

paths: dict[int, list] = {}
for sample in pipe.stream(frames):
    for tid, (x, y, w, h) in sample["tracks"]:
        paths.setdefault(tid, []).append((sample.index, x + w / 2, y + h))  # foot point
print(f"{len(paths)} identities over {len(frames)} frames")

# %%
# Each identity's path, and when it was alive
# --------------------------------------------
colours = plt.get_cmap("tab20")
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), gridspec_kw={"width_ratios": [1.3, 1]})
axes[0].imshow(scene.background()[..., ::-1])
for k, (tid, pts) in enumerate(sorted(paths.items())):
    t, x, y = np.array(pts).T
    axes[0].plot(x, y, "-", color=colours(k % 20), linewidth=2)
    axes[0].text(x[0], y[0], str(tid), color="white", fontsize=8,
                 bbox={"facecolor": colours(k % 20), "pad": 1, "linewidth": 0})
    axes[1].plot(t + 1, np.full_like(t, tid), "|", color=colours(k % 20), markersize=6)
axes[0].set_title("foot point of every track, labelled at its start")
axes[0].axis("off")
axes[1].set_xlabel("frame")
axes[1].set_ylabel("identity")
axes[1].set_title("frames where each identity was reported")
fig.tight_layout()
plt.show()
