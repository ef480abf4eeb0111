"""Adapters that let other model libraries' checkpoints expose speechrep's named layers, unpatched.

- :mod:`modellib_addons.fairseq_checkpoints`: fairseq wav2vec 2.0 / XLS(-R) / HuBERT ``.pt``
  checkpoints (pretrained or CTC fine-tuned) read safely (``weights_only``) and converted to
  transformers models, so they run through :class:`speechrep.upstream.HFSpeechUpstream` with the
  same ``cnn.k`` / ``tf.k`` layers as hub checkpoints. fairseq itself is not needed.
- :mod:`modellib_addons.infomax_upstream`: this project's CPC / GIM / SIM / V-GIM encoders (a
  ``scripts/train_infomax.py`` run's ``encoder/`` folder, or a random-init preset) as upstreams with
  layers ``module.0`` …, so the feature store and the layer-wise analyses run on them.

The adapters are imported from their modules (``from modellib_addons.fairseq_checkpoints import
fairseq_upstream``, ``from modellib_addons.infomax_upstream import infomax_upstream``); importing
this package loads nothing heavy.
"""
