"""
Mask propagation: from a warp to video object segmentation
==========================================================

In semi-supervised video object segmentation the object's mask is given on the first
frame and must be found on every later one. The naive answer carries the previous mask
along the optical flow to the next frame. Small flow errors add up, and the mask drifts.

The ``vos`` preset fuses that warped mask with colour and texture models of the object and
of its surroundings and with a shape template, then cuts the result along the image's
edges with a graph cut (after ObjectFlow, Tsai et al. 2016). Both run here on a clip of
one object from :func:`classicseg.synth.object_clip`, scored by region similarity J
(intersection over union, as DAVIS scores it).
"""
import matplotlib.pyplot as plt
import numpy as np

from classicseg.config import validate
from classicseg.metrics.davis import jaccard
from classicseg.pipeline import Pipeline
from classicseg.synth import object_clip

frames, truth = object_clip(n_frames=30, seed=1)

# The naive warp as a pipeline (the same as samples/naive-warp.yaml): Farneback's backward
# flow at full resolution, the previous mask warped along it and thresholded, nothing else.
naive = Pipeline.from_spec(validate({"name": "naive-warp", "pipeline": [
    {"stage": "flow.farneback", "scale": 1.0},
    {"stage": "vos.propagate", "sigma": 0.0, "motion_sigma": 0.0, "w_colour": 0.0}]}))
methods = {"naive warp": naive, "vos preset": Pipeline.load(preset="vos")}

masks, scores = {}, {}
for name, pipe in methods.items():
    masks[name] = [s["fg"] for s in pipe.stream(frames, init_mask=truth[0].astype(np.uint8))]
    scores[name] = [jaccard(t, m) for t, m in zip(truth, masks[name])]
    print(f"{name}: mean J {np.mean(scores[name][1:-1]):.3f} (first and last frames left out, as DAVIS does)")

# %%
# J on every frame
# ----------------
fig, ax = plt.subplots(figsize=(8, 2.8))
for name, js in scores.items():
    ax.plot(range(1, len(js) + 1), js, label=name)
ax.set_xlabel("frame")
ax.set_ylabel("J (IoU)")
ax.set_ylim(0, 1.02)
ax.legend(loc="lower left")
fig.tight_layout()

# %%
# The masks on three frames
# -------------------------
# Green: the true outline; orange: the naive warp's; blue: the vos preset's.
fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
for ax, t in zip(axes, (0, 15, 29)):
    ax.imshow(frames[t][..., ::-1])
    ax.contour(truth[t], levels=[0.5], colors=["#59a14f"], linewidths=2)
    ax.contour(masks["naive warp"][t], levels=[0.5], colors=["#f28e2b"], linewidths=1.2)
    ax.contour(masks["vos preset"][t], levels=[0.5], colors=["#4e79a7"], linewidths=1.2)
    ax.set_title(f"frame {t + 1}")
    ax.axis("off")
fig.tight_layout()
plt.show()
