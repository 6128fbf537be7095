"""
Graph cut, random walker and dense CRF
======================================

Many methods end with a probability of foreground per pixel that is right on the whole
but blurred at the object's edge. Three classical ways turn it into a mask that follows
the image's edges:

* **graph cut** (Boykov & Jolly 2001): the minimum s-t cut of a grid graph whose
  terminal edges carry the probabilities and whose neighbour edges are cheap to cut where
  the colour changes (:func:`classicseg.stages.refine.graphcut`, PyMaxflow);
* **random walker** (Grady 2006): confident pixels are seeds, every other pixel takes the
  label a random walk from it most likely reaches first, walks crossing colour edges
  being unlikely (:func:`classicseg.stages.randomwalker.random_walker_mask`, scikit-image);
* **dense CRF** (Krähenbühl & Koltun 2011): every pair of pixels is linked, with weights
  from their distance and colour difference, solved by mean-field inference
  (:func:`classicseg.stages.refine.densecrf`, pydensecrf2).

The probability here is a blurred and noisy copy of the true mask of an object from
:func:`classicseg.synth.object_clip`, like a weak model's output. Thresholding it gives a
ragged mask; each method uses the image to do better. Their parameters matter: the graph
cut's smoothness weight ``gamma`` is 10 here; at 50 it would smooth the object's thin parts
away.
"""
import time

import cv2
import matplotlib.pyplot as plt
import numpy as np

from classicseg.metrics.davis import boundary_f, jaccard
from classicseg.stages.randomwalker import random_walker_mask
from classicseg.stages.refine import densecrf, graphcut
from classicseg.synth import object_clip

frames, masks = object_clip(n_frames=2, seed=3)
image, truth = frames[0], masks[0]
rng = np.random.default_rng(0)
coarse = cv2.GaussianBlur(truth.astype(np.float32), (0, 0), 6)
prob = np.clip(0.1 + 0.8 * coarse + rng.normal(0, 0.25, truth.shape), 0.01, 0.99).astype(np.float32)

results = {"probability > 0.5": prob > 0.5}
for name, fn in (("graph cut", lambda: graphcut(image, prob, gamma=10.0)),
                 ("random walker", lambda: random_walker_mask(image, prob)),
                 ("dense CRF", lambda: densecrf(image, prob))):
    t0 = time.perf_counter()
    try:
        results[name] = fn()
    except Exception as exc:  # pydensecrf2 is optional: pip install 'classicseg[refine]'
        print(f"{name}: not run ({exc})")
        continue
    print(f"{name}: {1000 * (time.perf_counter() - t0):.0f} ms")

# %%
# The masks and their scores
# --------------------------
# J is the overlap with the true mask; F the boundary accuracy (DAVIS's contour measure).
fig, axes = plt.subplots(1, len(results) + 1, figsize=(3 * (len(results) + 1), 3))
axes[0].imshow(prob, cmap="viridis", vmin=0, vmax=1)
axes[0].set_title("probability")
for ax, (name, m) in zip(axes[1:], results.items()):
    j, f = jaccard(truth, m), boundary_f(truth, m)
    ax.imshow(image[..., ::-1])
    ax.contour(truth, levels=[0.5], colors=["#59a14f"], linewidths=2)
    ax.contour(m, levels=[0.5], colors=["#e15759"], linewidths=1.2)
    ax.set_title(f"{name}\nJ {j:.3f}, F {f:.3f}", fontsize=9)
    print(f"{name:20s} J {j:.3f}  F {f:.3f}")
for ax in axes:
    ax.axis("off")
fig.tight_layout()
plt.show()
