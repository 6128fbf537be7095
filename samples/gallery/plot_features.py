"""
HOG and LBP: describing shape and texture
=========================================

Two classical descriptors that classicseg uses:

* **Local binary patterns** (Ojala et al. 2002) compare each pixel with its 8 neighbours
  and read the comparisons as a code. Codes with at most two 0/1 changes around the
  circle ("uniform": flat areas, edges, corners, line ends) cover most natural texture;
  a histogram of codes describes a texture and does not change when the light changes.
  The ``vos`` preset's classifier and the ``surveillance`` preset's shadow test use them
  (:func:`classicseg.kernels.lbp.lbp_numba`, equal to scikit-image's to the bit).
* **Histograms of oriented gradients** (Dalal & Triggs 2005) describe shape: gradient
  orientations histogrammed in small cells, normalised over blocks of cells. With a linear
  SVM they find people (``detect.people``, OpenCV's HOG detector).

The pictures are scikit-image's bundled photographs.
"""
import cv2
import matplotlib.pyplot as plt
import numpy as np
from skimage.feature import hog

from classicseg.kernels.lbp import lbp_numba
from classicseg.synth import load_bundled_image

scene = cv2.cvtColor(load_bundled_image("background"), cv2.COLOR_BGR2GRAY)
person = cv2.cvtColor(load_bundled_image("astronaut"), cv2.COLOR_BGR2GRAY)
codes = lbp_numba(scene, "uniform")

# %%
# Uniform LBP codes and the histograms of two textures
# ----------------------------------------------------
# Codes 0-8 count the neighbours brighter than the centre; 9 is every non-uniform pattern.
# Two patches of the garage floor share a histogram that differs from the shelves' even
# where their brightness is the same.
h, w = scene.shape
patches = {"floor, left": (slice(int(0.8 * h), int(0.95 * h)), slice(int(0.05 * w), int(0.25 * w))),
           "floor, right": (slice(int(0.8 * h), int(0.95 * h)), slice(int(0.7 * w), int(0.9 * w))),
           "shelves": (slice(int(0.1 * h), int(0.3 * h)), slice(int(0.05 * w), int(0.25 * w)))}
fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
axes[0].imshow(scene, cmap="gray")
axes[0].set_title("image")
axes[1].imshow(codes, cmap="tab10", vmin=0, vmax=9)
axes[1].set_title("uniform LBP code (P=8, R=1)")
for (name, (ys, xs)), c in zip(patches.items(), ("#4e79a7", "#59a14f", "#e15759")):
    for ax in axes[:2]:
        ax.add_patch(plt.Rectangle((xs.start, ys.start), xs.stop - xs.start, ys.stop - ys.start, fill=False,
                                   edgecolor=c, linewidth=2))
    hist = np.bincount(codes[ys, xs].astype(int).ravel(), minlength=10) / codes[ys, xs].size
    axes[2].plot(range(10), hist, "o-", color=c, label=name)
axes[0].axis("off")
axes[1].axis("off")
axes[2].set_xlabel("code")
axes[2].set_ylabel("share of pixels")
axes[2].legend()
fig.tight_layout()

# %%
# HOG of a person
# ---------------
# Each cell of 8x8 pixels shows its histogram of gradient orientations as a star of lines:
# the outline of head and shoulders stands out. OpenCV's people detector slides a 64x128
# window of such cells over the image and scores it with a linear SVM.
crop = cv2.resize(person[20:300, 120:380], (128, 160), interpolation=cv2.INTER_AREA)
features, picture = hog(crop, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2), visualize=True)
print(f"HOG of a {crop.shape[1]}x{crop.shape[0]} crop: {features.size} numbers "
      f"({crop.shape[0] // 8 - 1} x {crop.shape[1] // 8 - 1} blocks of 2x2 cells x 9 orientations)")
fig, axes = plt.subplots(1, 2, figsize=(6, 3.6))
axes[0].imshow(crop, cmap="gray")
axes[0].set_title("image")
axes[1].imshow(picture, cmap="magma")
axes[1].set_title("HOG, 8x8 cells")
for ax in axes:
    ax.axis("off")
fig.tight_layout()
plt.show()
