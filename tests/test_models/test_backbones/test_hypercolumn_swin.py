"""HypercolumnSwin: every Swin block's output of the chosen stages, as mmseg's
SwinTransformer computes them (its own forward, blocks hooked)."""
import pytest
import torch
from mmseg.registry import MODELS

SMALL = dict(pretrain_img_size=96, embed_dims=16, depths=[1, 2, 3, 2], num_heads=[1, 2, 2, 4],
             window_size=3)


def test_levels_are_swin_block_outputs():
    torch.manual_seed(0)
    hyper = MODELS.build(dict(type='HypercolumnSwin', stages=(1, 2, 3), **SMALL))
    plain = MODELS.build(dict(type='SwinTransformer', out_indices=(0, 1, 2, 3), **SMALL))
    plain.load_state_dict(hyper.state_dict())
    hyper.eval()
    plain.eval()
    captured = []
    for i, stage in enumerate(plain.stages):
        for block in stage.blocks:
            if i >= 1:
                block.register_forward_hook(lambda m, a, out: captured.append((out, a[1])))
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        levels = hyper(x)
        plain(x)
    assert hyper.group_sizes == [2, 3, 2] and len(levels) == 7
    for level, (tokens, hw) in zip(levels, captured):
        assert level.shape == (2, tokens.shape[-1], *hw)
        torch.testing.assert_close(level.flatten(2).transpose(1, 2), tokens, rtol=0, atol=0)
    assert [lv.shape[-1] for lv in levels] == [12, 12, 6, 6, 6, 3, 3]
    with pytest.raises(ValueError, match='stages must be in 0..3'):
        MODELS.build(dict(type='HypercolumnSwin', stages=(4, ), **SMALL))
