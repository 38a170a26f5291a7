"""DINOv2 backbone: DINOv2's position interpolation and intermediate layers restated, the
converter. (Against facebookresearch/dinov2's own code, outside the suite: bit-identical,
docs/reference_parity.md.)"""
import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmfss.models.backbones.dinov2 import interpolate_pos_embed
from mmfss.utils import convert_dinov2

TINY = dict(embed_dims=32, num_layers=4, num_heads=2)


def _model(**kw):
    torch.manual_seed(0)
    model = MODELS.build(dict(type='DINOv2', arch=TINY, img_size=98, **kw))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


def test_position_interpolation_is_dinov2s():
    """DINOv2 resizes its M x M table with scale factors (n + 0.1) / M (bicubic, float32),
    not to the size: the samples sit elsewhere, so the two readings differ."""
    pos = torch.randn(1, 1 + 7 * 7, 8)
    assert interpolate_pos_embed(pos, (7, 7)) is pos
    out = interpolate_pos_embed(pos, (5, 9))
    table = pos[:, 1:].reshape(1, 7, 7, 8).permute(0, 3, 1, 2)
    expected = F.interpolate(table, scale_factor=(5.1 / 7, 9.1 / 7), mode='bicubic')
    assert torch.equal(out[:, 0], pos[:, 0])
    torch.testing.assert_close(out[:, 1:], expected.permute(0, 2, 3, 1).reshape(1, 45, 8),
                               rtol=0, atol=0)
    by_size = interpolate_pos_embed(pos, (5, 9), offset=0)
    assert not torch.allclose(by_size, out)
    with pytest.raises(ValueError, match='not square'):
        interpolate_pos_embed(torch.zeros(1, 1 + 12, 8), (3, 4))


@pytest.mark.parametrize('registers', [0, 4])
def test_levels_are_dinov2s_intermediate_layers(registers):
    """get_intermediate_layers(x, n, reshape=True, norm=True) restated with the module's own
    blocks: tokens (class, registers after it), every block, the final norm, the class and
    register tokens dropped, [B, C, rows, cols]."""
    model = _model(num_register_tokens=registers, out_indices=(1, 3))
    x = torch.randn(2, 3, 42, 56)
    with torch.no_grad():
        got = model(x)
        tokens = model.patch_embed.proj(x).flatten(2).transpose(1, 2)
        tokens = torch.cat([model.cls_token.expand(2, -1, -1), tokens], 1)
        tokens = tokens + interpolate_pos_embed(model.pos_embed, (3, 4))
        if registers:
            tokens = torch.cat([tokens[:, :1], model.register_tokens.expand(2, -1, -1),
                                tokens[:, 1:]], 1)
        expected = []
        for i, block in enumerate(model.blocks):
            tokens = block(tokens)
            if i in (1, 3):
                out = model.norm(tokens)[:, 1 + registers:]
                expected.append(out.reshape(2, 3, 4, 32).permute(0, 3, 1, 2))
    assert len(got) == 2
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_padding_and_arguments():
    model = _model()
    with torch.no_grad():
        assert [tuple(t.shape) for t in model(torch.randn(1, 3, 43, 57))] == [(1, 32, 4, 5)] * 4
    full = MODELS.build(dict(type='DINOv2', arch='small'))
    assert sum(p.numel() for p in full.parameters()) == 22_056_192  # ViT-S/14 without mask_token
    assert full.out_indices == (8, 9, 10, 11)
    frozen = MODELS.build(dict(type='DINOv2', arch=TINY, frozen=True))
    assert not any(p.requires_grad for p in frozen.parameters())
    with pytest.raises(ValueError, match="arch must be one of"):
        MODELS.build(dict(type='DINOv2', arch='giant'))
    with pytest.raises(ValueError, match='out_indices must be blocks in 0..3'):
        MODELS.build(dict(type='DINOv2', arch=TINY, out_indices=(4, )))


def test_release_converts():
    model = _model(num_register_tokens=4)
    release = dict(model.state_dict(), mask_token=torch.zeros(1, 32))
    converted = convert_dinov2(release)
    assert set(converted) == set(model.state_dict())
    model.load_state_dict(converted, strict=True)
    # chunked blocks (block_chunks > 0): blocks.<chunk>.<i>.*
    chunked = {(k.replace('blocks.', 'blocks.0.', 1) if k.startswith('blocks.') else k): v
               for k, v in release.items()}
    assert set(convert_dinov2(chunked)) == set(model.state_dict())
    with pytest.raises(ValueError, match="unexpected key 'blocks.0.mlp.w12.weight'"):
        convert_dinov2({'blocks.0.mlp.w12.weight': torch.zeros(1)})  # ViT-g's SwiGLU
