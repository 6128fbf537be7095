"""
The learning rate: how fast the background forgets
==================================================

A background model must follow slow changes (the light of the day, a parked car that
becomes part of the scene) without swallowing objects that merely move slowly. With MOG2
the learning rate is ``1 / history``: a short history follows the light and absorbs a
slow object into the background; a long one keeps the object but takes longer to settle.

The scene of :func:`classicseg.synth.make_scene` brightens and dims by 12 % and one of
its objects slows down almost to a stop. A model that learns too fast (history 30) takes
every object that lingers into the background: precision stays high, recall collapses.
The per-frame F-measure shows when it happens.
"""
import matplotlib.pyplot as plt

from classicseg.metrics.cdnet import CDnetAccumulator
from classicseg.pipeline import Pipeline
from classicseg.stages.bgsub.opencv import MOG2
from classicseg.synth import make_scene

scene = make_scene(n_frames=300, seed=0)
frames, gts = zip(*scene.frames())
first, last = scene.temporal_roi

curves, scores, finals = {}, {}, {}
for history in (30, 100, 1000):
    acc = CDnetAccumulator()
    for i, sample in enumerate(Pipeline([MOG2(history=history)]).stream(frames)):
        if first <= i + 1 <= last:
            acc.update(sample["fg"], gts[i], frame=i + 1)
        if i == 250:
            finals[history] = sample["fg"]
    curves[history] = (acc.frames, acc.per_frame_f())
    scores[history] = acc.compute()
    m = scores[history]
    print(f"history {history:5d} (rate {1 / history:.3f}): F {m['f_measure']:.3f}, "
          f"precision {m['precision']:.3f}, recall {m['recall']:.3f}")

# %%
# F-measure of every frame
# ------------------------
# Gaps are frames with nothing to score (no object and nothing detected).
fig, ax = plt.subplots(figsize=(9, 3))
for history, (xs, ys) in curves.items():
    ax.plot(xs, ys, label=f"history {history} (F {scores[history]['f_measure']:.2f})", linewidth=1)
ax.set_xlabel("frame")
ax.set_ylabel("F-measure")
ax.set_ylim(0, 1.02)
ax.legend(loc="lower right")
fig.tight_layout()

# %%
# The masks of frame 251
# ----------------------
fig, axes = plt.subplots(1, 4, figsize=(12, 2.8))
axes[0].imshow(gts[250], cmap="gray")
axes[0].set_title("ground truth")
for ax, (history, fg) in zip(axes[1:], finals.items()):
    ax.imshow(fg, cmap="gray")
    ax.set_title(f"history {history}")
for ax in axes:
    ax.axis("off")
fig.tight_layout()
plt.show()
