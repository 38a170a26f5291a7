import pytest
import torch
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize

from mmfss.models.utils import ResizeConcatInputsMixin, resize_concat, resize_to


@pytest.mark.parametrize('align_corners', [False, True])
def test_resize_to_is_mmseg_resize_without_the_copy(align_corners):
    x = torch.randn(2, 5, 7, 9)
    assert resize_to(x, (7, 9), align_corners) is x  # no copy
    assert torch.equal(resize(x, size=(7, 9), mode='bilinear', align_corners=align_corners), x)
    for size in ((14, 18), (4, 5)):
        assert torch.equal(resize_to(x, size, align_corners),
                           resize(x, size=size, mode='bilinear', align_corners=align_corners))


@pytest.mark.parametrize('align_corners', [False, True])
def test_mixin_transform_equals_mmseg(align_corners):
    class Head(ResizeConcatInputsMixin, BaseDecodeHead):
        def forward(self, inputs):
            return self._transform_inputs(inputs)

    levels = [torch.randn(1, 3, 16, 16), torch.randn(1, 4, 8, 8), torch.randn(1, 6, 8, 8)]
    for transform, in_index, channels in (('resize_concat', [1, 0, 2], [4, 3, 6]),
                                          ('multiple_select', [0, 2], [3, 6]), (None, 2, 6)):
        head = Head(in_channels=channels, channels=4, num_classes=2, in_index=in_index,
                    input_transform=transform, align_corners=align_corners)
        ours = head(levels)
        theirs = BaseDecodeHead._transform_inputs(head, levels)
        if transform == 'resize_concat':
            assert torch.equal(ours, theirs)
            assert torch.equal(ours, resize_concat(levels, in_index, align_corners))
        else:
            assert all(a is b for a, b in zip(ours, theirs)) if transform else ours is theirs
