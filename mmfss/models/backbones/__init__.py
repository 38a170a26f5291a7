from .dinov2 import DINOV2_ARCHS, DINOv2
from .hypercolumn_resnet import HypercolumnResNet
from .hypercolumn_swin import HypercolumnSwin
from .hypercolumn_vgg import HypercolumnVGG
from .vgg import VGG, VGG_ARCHS

__all__ = ['VGG', 'VGG_ARCHS', 'HypercolumnResNet', 'HypercolumnVGG', 'DINOv2', 'DINOV2_ARCHS',
           'HypercolumnSwin']
