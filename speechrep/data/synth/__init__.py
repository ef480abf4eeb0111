"""Speech synthesis with alignments: espeak-ng via ctypes, a seeded sentence generator, and a
corpus builder that writes a validated :class:`~speechrep.data.manifest.Manifest` of
multi-speaker utterances whose generative factors (voice, pitch, rate) are known."""
