from .hypercolumn_resnet import HypercolumnResNet
from .vgg import VGG, VGG_ARCHS

__all__ = ['VGG', 'VGG_ARCHS', 'HypercolumnResNet']
