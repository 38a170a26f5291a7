import pytest
import torch

from mmfss.models.utils import class_argmax, pixel_accuracy


@pytest.mark.parametrize('shape,dim', [((5, 33, 17), 0), ((3, 2, 19, 23), 1), ((4, 6), 1)])
def test_class_argmax_is_argmax(shape, dim):
    """The same indices as ``argmax(dim)``: ties to the first class, NaN and +-inf as
    argmax orders them, any rank."""
    torch.manual_seed(0)
    for _ in range(20):
        x = torch.randint(0, 3, shape).float()  # many ties
        x[torch.rand(shape) < 0.05] = float('nan')
        x[torch.rand(shape) < 0.05] = float('inf')
        x[torch.rand(shape) < 0.05] = -float('inf')
        ours = class_argmax(x, dim)
        assert ours.dtype == torch.int64
        assert torch.equal(ours, x.argmax(dim))


def test_pixel_accuracy_is_mmseg_accuracy():
    """``pixel_accuracy`` (the class argmax on the device) is mmseg's ``accuracy``."""
    from mmseg.models.losses import accuracy
    torch.manual_seed(1)
    logits = torch.randn(2, 2, 31, 29)
    logits[0, :, :5] = 0.0  # ties
    label = torch.randint(0, 2, (2, 31, 29))
    label[1, :3] = 255
    ours = pixel_accuracy(logits, label, ignore_index=255)
    theirs = accuracy(logits, label, ignore_index=255)
    torch.testing.assert_close(ours, theirs.view(1), rtol=0, atol=1e-4)
