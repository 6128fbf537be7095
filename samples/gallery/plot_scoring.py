"""
Scoring by the benchmarks' own rules
====================================

A number means little unless it is computed the way the benchmark computes it.

**CDnet 2014** (change detection) labels every ground-truth pixel: 0 static, 50 hard
shadow, 85 outside the region of interest, 170 unknown (an object's blurred rim), 255
moving. A pixel counts only inside the region of interest and where the label is not 170;
shadow counts as background. True and false positives and negatives are *summed over all
frames of a video* before recall, precision and F are taken; a category scores the mean
of its videos, the whole benchmark the mean of its categories
(:mod:`classicseg.metrics.cdnet`).

**DAVIS** (video object segmentation) scores region similarity J (intersection over union)
and contour accuracy F: the F-measure of boundary pixels matched within a tolerance of
0.8 % of the image diagonal (:mod:`classicseg.metrics.davis`).
"""
import cv2
import matplotlib.pyplot as plt
import numpy as np

from classicseg.metrics.cdnet import CDnetAccumulator, confusion, metrics_from_counts
from classicseg.metrics.davis import boundary_f, jaccard, seg2bmap
from classicseg.pipeline import Pipeline
from classicseg.stages.bgsub.opencv import MOG2
from classicseg.synth import make_scene, object_clip

scene = make_scene(n_frames=200, seed=5)
frames, gts = zip(*scene.frames())
first, last = scene.temporal_roi
acc = CDnetAccumulator()
masks = []
for i, s in enumerate(Pipeline([MOG2(history=100)]).stream(frames)):
    masks.append(s["fg"])
    if first <= i + 1 <= last:
        acc.update(s["fg"], gts[i], frame=i + 1)

# %%
# What each pixel counts as (CDnet)
# ---------------------------------
# White: true positive, red: false positive, blue: miss, grey: not counted (label 170),
# dark green: a shadow the subtractor called background (a true negative).
t = 150
gt, fg = gts[t], masks[t]
pic = np.zeros((*gt.shape, 3))
pic[fg & (gt == 255)] = (1, 1, 1)
pic[fg & (gt != 255) & (gt != 170)] = (0.9, 0.25, 0.25)
pic[~fg & (gt == 255)] = (0.2, 0.45, 0.95)
pic[~fg & (gt == 50)] = (0.1, 0.4, 0.1)
pic[gt == 170] = (0.5, 0.5, 0.5)
frame_m = metrics_from_counts(confusion(fg, gt))
video_m = acc.compute()
per_frame = np.array(acc.per_frame_f(), dtype=float)
print(f"frame {t + 1}: F {frame_m['f_measure']:.3f}")
print(f"video (counts summed over frames {first}-{last}): F {video_m['f_measure']:.3f}; "
      f"mean of the per-frame F values {np.nanmean(per_frame):.3f} (not the CDnet score)")

fig, axes = plt.subplots(1, 3, figsize=(12, 3))
axes[0].imshow(frames[t][..., ::-1])
axes[0].set_title(f"frame {t + 1}")
axes[1].imshow(pic)
axes[1].set_title(f"pixels as CDnet counts them (F {frame_m['f_measure']:.2f})")
axes[2].plot(acc.frames, per_frame, linewidth=1)
axes[2].axhline(video_m["f_measure"], color="#e15759", linestyle="--", label="video F (summed counts)")
axes[2].set_xlabel("frame")
axes[2].set_ylabel("F of the frame alone")
axes[2].set_ylim(0, 1.02)
axes[2].legend(loc="lower right", fontsize=8)
for ax in axes[:2]:
    ax.axis("off")
fig.tight_layout()

# %%
# Region and contour accuracy (DAVIS)
# -----------------------------------
# A prediction shifted by a few pixels keeps a high J on a large object, but its boundary
# leaves the tolerance band (light green) and F drops faster.
(image,), (truth,) = object_clip(n_frames=1, seed=2)
diag = np.hypot(*truth.shape)
tol = int(np.ceil(0.008 * diag))
band = cv2.dilate(seg2bmap(truth).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                                                              (2 * tol + 1, 2 * tol + 1))) > 0
fig, axes = plt.subplots(1, 3, figsize=(12, 3))
for ax, shift in zip(axes, (1, 4, 8)):
    pred = np.roll(truth, shift, axis=1)
    vis = image[..., ::-1].astype(float) / 255
    vis[band] = 0.6 * vis[band] + 0.4 * np.array([0.6, 1.0, 0.6])
    vis[seg2bmap(pred)] = (0.9, 0.2, 0.2)
    ax.imshow(vis)
    ax.set_title(f"shifted {shift} px: J {jaccard(truth, pred):.3f}, F {boundary_f(truth, pred):.3f}")
    ax.axis("off")
print(f"boundary tolerance: ceil(0.008 x {diag:.0f}) = {tol} px")
fig.tight_layout()
plt.show()
