"""The echo phantom and a weight-free segmenter driven by the SAMURAI core (NumPy + JAX only).

This package is the worked example of plugging ``samurai_core`` into a tracker that is not
SAM 2: ``segmenter.PhantomSegmenter`` proposes candidate masks with a predicted quality,
``tracker.track`` hands them to ``samurai_core.step`` once per frame. ``samurai demo`` runs it on
the synthetic clip of ``phantom.make_phantom``.
"""

from samurai_phantom.phantom import LABELS, Phantom, make_phantom
from samurai_phantom.segmenter import PhantomSegmenter, Proposals
from samurai_phantom.tracker import VARIANTS, TrackRun, track, vanilla_config, variant_config

__all__ = [
    "LABELS",
    "Phantom",
    "PhantomSegmenter",
    "Proposals",
    "TrackRun",
    "VARIANTS",
    "make_phantom",
    "track",
    "vanilla_config",
    "variant_config",
]
