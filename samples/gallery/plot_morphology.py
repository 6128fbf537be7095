"""
Cleaning a mask with morphology
===============================

A background subtractor's raw mask has isolated false pixels (noise), holes inside
objects (parts that look like the background) and ragged edges. Classical clean-up uses
mathematical morphology on the binary mask (Serra 1982):

* **opening** (erosion then dilation) removes specks smaller than the structuring element;
* **closing** (dilation then erosion) bridges small gaps;
* a **median** filter is a majority vote in a window;
* **filling holes** sets background regions that foreground encloses;
* dropping **small blobs** removes connected components under an area.

Each step is a plain function of :mod:`classicseg.stages.morph` (and a stage of the same
name for pipelines). Here they are applied one after the other to a KNN mask.
"""
import matplotlib.pyplot as plt

from classicseg.metrics.cdnet import confusion, metrics_from_counts
from classicseg.pipeline import Pipeline
from classicseg.stages.bgsub.opencv import KNN
from classicseg.stages.morph import close_mask, fill_holes, median_mask, open_mask, remove_small
from classicseg.synth import make_scene

scene = make_scene(n_frames=140, seed=2, noise_sigma=6.0)
frames, gts = zip(*scene.frames())
t = 130
raw = [s["fg"] for s in Pipeline([KNN(history=100)]).stream(frames)][t]
gt = gts[t]

steps = [("raw KNN mask", raw)]
steps.append(("opening, radius 1", open_mask(steps[-1][1], radius=1)))
steps.append(("closing, radius 2", close_mask(steps[-1][1], radius=2)))
steps.append(("median 5x5", median_mask(steps[-1][1], ksize=5)))
steps.append(("holes filled", fill_holes(steps[-1][1])))
steps.append(("blobs under 50 px dropped", remove_small(steps[-1][1], min_area=50)))

# %%
# Each step and its F-measure on this frame
# -----------------------------------------
# Not every step helps on every frame: filling holes also fills background that an object
# and its neighbour (or its own shadow) enclose. Which steps to keep is measured over whole
# sequences, never decided on one frame.
fig, axes = plt.subplots(2, 4, figsize=(12, 5.2))
axes = axes.ravel()
axes[0].imshow(frames[t][..., ::-1])
axes[0].set_title(f"frame {t + 1}")
axes[1].imshow(gt, cmap="gray", vmin=0, vmax=255)
axes[1].set_title("ground truth")
for ax, (label, mask) in zip(axes[2:], steps):
    m = metrics_from_counts(confusion(mask, gt))
    ax.imshow(mask, cmap="gray")
    ax.set_title(f"{label}\nF {m['f_measure']:.3f}", fontsize=9)
    print(f"{label:28s} F {m['f_measure']:.3f}  precision {m['precision']:.3f}  recall {m['recall']:.3f}")
for ax in axes:
    ax.axis("off")
fig.tight_layout()
plt.show()
