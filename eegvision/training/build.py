"""Model building: a fresh contrastive model from a :class:`~eegvision.training.TrainConfig`."""

from __future__ import annotations

import math


def make_encoder(name, *, n_chans, n_times, n_outputs, sfreq=None, **kwargs):
    """An encoder from the registry (:func:`eegvision.models.create_encoder`)."""
    from ..models import create_encoder

    return create_encoder(name, n_chans=n_chans, n_times=n_times, n_outputs=n_outputs,
                          sfreq=sfreq, **kwargs)


def build_model(config, *, n_chans, n_times, n_features, sfreq=None):
    """A fresh :class:`~eegvision.models.projector.ContrastiveModel`, initialised from ``config.seed``.

    Every call with the same config and shapes gives the same weights, so
    folds and repeated runs never share state.
    """
    import torch

    from ..models.loss import ClipLoss
    from ..models.projector import ContrastiveModel, ImageProjector

    torch.manual_seed(int(config.seed))
    n_out = n_features // int(config.blur_levels) if config.image_prior else n_features
    encoder = make_encoder(config.model, n_chans=n_chans, n_times=n_times, n_outputs=n_out,
                           sfreq=sfreq, **config.encoder_kwargs)
    if config.image_prior:
        from ..models.blur import BlurBankProjector, UBPImageSide

        side = UBPImageSide if config.image_prior == "ubp" else BlurBankProjector
        projector = side(int(config.blur_levels), n_out)
    else:
        projector = ImageProjector(n_features, dropout=config.proj_dropout,
                                   identity=config.nice_defects)
    if config.dropout is not None:
        for module in encoder.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = float(config.dropout)
    loss = ClipLoss(init=math.log(1 / float(config.temperature)),
                    learn_scale=not config.nice_defects and config.learn_temperature,
                    soft_scale=config.soft_targets,
                    soft_mix=config.soft_mix)
    model = ContrastiveModel(encoder, projector, loss)
    if config.init == "normal":
        from ..models.modules import init_nice_weights

        init_nice_weights(model.encoder)
        init_nice_weights(model.projector)
    model.encoder_name = config.model
    model.n_features = int(n_features)
    model.test_similarity = config.test_similarity  # read by evaluate()
    return model
