from .hypercolumn_resnet import HypercolumnResNet
from .hypercolumn_vgg import HypercolumnVGG
from .vgg import VGG, VGG_ARCHS

__all__ = ['VGG', 'VGG_ARCHS', 'HypercolumnResNet', 'HypercolumnVGG']
