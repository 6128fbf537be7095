"""The order of the gallery: the ideas in the order they are taught."""

ORDER = (
    "plot_background_subtraction.py",
    "plot_learning_rate.py",
    "plot_morphology.py",
    "plot_optical_flow.py",
    "plot_mask_propagation.py",
    "plot_refinement.py",
    "plot_features.py",
    "plot_tracking.py",
    "plot_scoring.py",
)


class TeachingOrder:
    """sphinx-gallery sort key: the files of :data:`ORDER` first, in that order, then the rest by name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename: str):
        return (ORDER.index(filename), "") if filename in ORDER else (len(ORDER), filename)

    def __repr__(self) -> str:
        return "TeachingOrder"
