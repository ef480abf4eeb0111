"""Adapters that let other model libraries' checkpoints expose speechrep's named layers, unpatched.

- :mod:`modellib_addons.fairseq_checkpoints`: fairseq wav2vec 2.0 / XLS(-R) / HuBERT ``.pt``
  checkpoints (pretrained or CTC fine-tuned) read safely (``weights_only``) and converted to
  transformers models, so they run through :class:`speechrep.upstream.HFSpeechUpstream` with the
  same ``cnn.k`` / ``tf.k`` layers as hub checkpoints. fairseq itself is not needed.

The adapters are imported from their modules (``from modellib_addons.fairseq_checkpoints import
fairseq_upstream``); importing this package loads nothing heavy.
"""
