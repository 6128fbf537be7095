"""
Optical flow and warping
========================

Optical flow says, for every pixel of a frame, where it came from in the previous one.
classicseg computes it *backward* (current frame to previous frame), so that the previous
frame, or the previous mask, can be carried onto the current frame by sampling it at
those places (:func:`classicseg.stages.flow.warp`).

Two methods from OpenCV: Farneback's polynomial expansion (2003) and dense inverse search
(DIS, Kroeger et al. 2016). To know the true flow, the second frame is made from the
first by a known small rotation and zoom: then every pixel's true motion follows from the
transform, and the end-point error (EPE) of each method can be drawn.
"""
import cv2
import matplotlib.pyplot as plt
import numpy as np

from classicseg.stages.flow import dis, farneback, pixel_grid, warp
from classicseg.synth import load_bundled_image
from classicseg.viz import flow_to_color

prev = cv2.resize(load_bundled_image("background"), (320, 240), interpolation=cv2.INTER_AREA)
h, w = prev.shape[:2]
A = cv2.getRotationMatrix2D((w / 2, h / 2), 2.0, 1.03)  # 2 degrees, 3 % zoom
curr = cv2.warpAffine(prev, A, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

# the true backward flow: pixel x of the current frame came from A^-1 x in the previous one
xs, ys = pixel_grid(h, w)
inv = cv2.invertAffineTransform(A)
true = np.dstack([inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2] - xs,
                  inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2] - ys]).astype(np.float32)

# each function gives the flow from its first frame to its second: (curr, prev) is the backward flow
flows = {"Farneback": farneback(curr, prev), "DIS (medium)": dis(curr, prev)}

# %%
# The flow fields, coloured by direction and length
# -------------------------------------------------
top = float(np.hypot(true[..., 0], true[..., 1]).max())
fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
axes[0].imshow(flow_to_color(true, top)[..., ::-1])
axes[0].set_title("true flow")
for ax, (name, f) in zip(axes[1:], flows.items()):
    epe = np.hypot(*(f - true).transpose(2, 0, 1))
    ax.imshow(flow_to_color(f, top)[..., ::-1])
    ax.set_title(f"{name}: mean EPE {epe[10:-10, 10:-10].mean():.2f} px")
    print(f"{name}: mean end-point error {epe[10:-10, 10:-10].mean():.3f} px (10 px border left out)")
for ax in axes:
    ax.axis("off")
fig.tight_layout()

# %%
# Warping the previous frame onto the current one
# -----------------------------------------------
# Where the flow is right, the warped previous frame equals the current frame.
g = lambda im: cv2.cvtColor(im, cv2.COLOR_BGR2GRAY).astype(np.float32)  # noqa: E731
fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
axes[0].imshow(np.abs(g(curr) - g(prev)), cmap="magma", vmin=0, vmax=60)
axes[0].set_title("|current - previous|")
for ax, (name, f) in zip(axes[1:], flows.items()):
    ax.imshow(np.abs(g(curr) - warp(g(prev), f)), cmap="magma", vmin=0, vmax=60)
    ax.set_title(f"|current - previous warped by {name}|", fontsize=9)
for ax in axes:
    ax.axis("off")
fig.tight_layout()
plt.show()
