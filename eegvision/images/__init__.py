"""The image half: image sets -> features of a pretrained vision-language model.

``extract_features`` reads the THINGS-EEG2 image set as distributed
(``image_set/{training,test}_images/<concept>/<file>.jpg`` in the order of
``image_metadata.npy``) and writes a named feature set that every command
reads with ``--features NAME``::

    dnn_feature/<name>/clip_feature_maps_training.npy   (n_train, D) float32
    dnn_feature/<name>/clip_feature_maps_test.npy       (n_test, D)
    dnn_feature/<name>/center_clip.npy                  (n_test, D), with a THINGS folder
    dnn_feature/<name>/blur_bank_{training,test}.npy    (n, K, D), with blur levels
    dnn_feature/<name>/manifest.json                    model, revision, preprocessing ...

Models are Hugging Face ``transformers`` CLIP models (hub id or local folder);
torch and transformers are imported only when features are computed.
"""

from __future__ import annotations

from .._utils import lazy_attributes

#: public name -> module that defines it (imported on first access)
_LAZY = {name: "eegvision.images.features"
         for name in ("FEATURE_FILES", "extract_features", "feature_set_dir", "read_manifest")}

__all__ = [*_LAZY]
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
