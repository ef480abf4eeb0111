"""SimVowels: simulated vowel sequences whose generative factors (vowel, vocal-tract length, F0) are known.

A reimplementation of the DecVAE reference simulator (Ziogas et al., 2026) in which F0 really drives the
glottal excitation, every run is seeded, the speaker splits are disjoint by construction, and the
corpus is written as wav files plus a Manifest instead of gzip JSON. Modules: ``vowels`` (formant
tables), ``source`` (glottal pulses), ``synthesis`` (one segment), ``speakers`` (vocal-tract layout and
splits), ``corpus`` (writing a corpus), ``observations`` (segments or frames), ``traversal``
(one-factor-at-a-time sets), ``sampler`` (the interventional sampler of the metric suite).
"""

from speechrep.data.simvowels.corpus import FACTOR_NAMES, segment_factors, simulate_corpus
from speechrep.data.simvowels.sampler import SimVowelsSampler
from speechrep.data.simvowels.speakers import SpeakerLayout
from speechrep.data.simvowels.synthesis import SimVowelsSettings
from speechrep.data.simvowels.traversal import TraversalSet, traversal_set

__all__ = [
    "FACTOR_NAMES",
    "SimVowelsSampler",
    "SimVowelsSettings",
    "SpeakerLayout",
    "TraversalSet",
    "segment_factors",
    "simulate_corpus",
    "traversal_set",
]
