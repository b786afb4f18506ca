"""ClipLoss, the image projector and the ContrastiveModel wrapper."""

import math

import pytest

torch = pytest.importorskip("torch")

from eegvision.models.loss import ClipLoss  # noqa: E402
from eegvision.models.projector import ContrastiveModel, ImageProjector  # noqa: E402


def _pairs(seed=0, n=16, d=8):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)


def test_loss_symmetric_in_its_arguments():
    a, b = _pairs()
    loss = ClipLoss()
    assert torch.allclose(loss(a, b), loss(b, a))


def test_loss_lower_for_aligned_pairs():
    a, b = _pairs()
    loss = ClipLoss()
    aligned = loss(a, a + 0.01 * b)
    shuffled = loss(a, b)
    assert aligned < 0.1 < shuffled

    # with a vanishing temperature every logit is equal: the loss is log(n)
    flat = ClipLoss(init=math.log(1e-9))(a, b)
    assert float(flat.detach()) == pytest.approx(math.log(16), abs=1e-6)


def test_loss_invariant_to_embedding_norm():
    a, b = _pairs()
    loss = ClipLoss()
    assert torch.allclose(loss(a, b), loss(3 * a, 0.5 * b), atol=1e-6)


def test_logit_scale_init_and_clamp():
    loss = ClipLoss()
    assert float(loss.logit_scale.detach()) == pytest.approx(math.log(1 / 0.07))
    with torch.no_grad():
        loss.logit_scale.fill_(10.0)
    assert float(loss.scale().detach()) == pytest.approx(100.0)


def test_logit_scale_gets_gradient_and_is_optimised():
    a, b = _pairs()
    model = ContrastiveModel(torch.nn.Linear(8, 8), ImageProjector(8, dropout=0.0))
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    before = float(model.loss.logit_scale.detach())
    model(a, b).backward()
    assert model.loss.logit_scale.grad is not None and model.loss.logit_scale.grad != 0
    opt.step()
    assert float(model.loss.logit_scale.detach()) != before


def test_frozen_temperature_and_identity_projector():
    loss = ClipLoss(learn_scale=False)
    proj = ImageProjector(8, identity=True)
    model = ContrastiveModel(torch.nn.Linear(8, 8), proj, loss)
    a, b = _pairs()
    assert torch.equal(model.encode_image(b), b)
    model(a, b).backward()
    assert model.loss.logit_scale.grad is None
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"encoder.weight", "encoder.bias"}


def test_projector_changes_input_and_normalises():
    proj = ImageProjector(8, dropout=0.0).eval()
    _, b = _pairs()
    out = proj(b)
    assert out.shape == b.shape and not torch.allclose(out, b)
    assert torch.allclose(out.mean(1), torch.zeros(len(b)), atol=1e-5)  # LayerNorm


def test_identity_projector_needs_same_dims():
    with pytest.raises(ValueError, match="identity"):
        ImageProjector(8, 4, identity=True)


def test_soft_targets_spread_over_similar_images():
    feats = torch.tensor([[1.0, 0.0, 0.0], [0.99, 0.14, 0.0], [0.0, 0.0, 1.0]])
    loss = ClipLoss(soft_scale=20.0, soft_mix=0.5)
    t = loss.targets(feats)
    assert torch.allclose(t.sum(1), torch.ones(3))
    assert t[0, 0] > t[0, 1] > 10 * t[0, 2]  # the near-duplicate shares, the unrelated does not
    assert torch.allclose(ClipLoss().targets(feats), torch.eye(3))
    # a huge scale puts the whole similarity part on the image itself: one-hot again
    assert torch.allclose(ClipLoss(soft_scale=1e4).targets(feats), torch.eye(3), atol=1e-6)


def test_soft_targets_only_in_training_mode():
    a, b = _pairs()
    feats = torch.randn(16, 5)
    soft, hard = ClipLoss(soft_scale=20.0), ClipLoss()
    assert not torch.allclose(soft(a, b, feats), hard(a, b))
    soft.eval()  # the validation loss is the plain InfoNCE
    assert torch.allclose(soft(a, b, feats), hard(a, b))
    soft.train()
    assert torch.allclose(soft(a, b), hard(a, b))  # no features, no soft targets
    manual = 0.5 * sum(torch.nn.functional.cross_entropy(lg, soft.targets(feats))
                       for lg in soft.get_logits(a, b))
    assert torch.allclose(soft(a, b, feats), manual)


def test_soft_target_settings_are_checked():
    with pytest.raises(ValueError, match="soft_scale"):
        ClipLoss(soft_scale=-1.0)
    with pytest.raises(ValueError, match="soft_mix"):
        ClipLoss(soft_scale=20.0, soft_mix=1.5)
