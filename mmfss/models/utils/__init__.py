from .cam_affinity_refinement import (affinity_refine, cam_boxes_mask, cam_boxes_masks,
                                      scale_cam)
from .class_argmax import class_argmax
from .clip_grad_cam import clip_grad_cam
from .episode_features import EpisodeFeatures
from .lazy_levels import LazyLevels, add_levels, map_levels
from .masked_average_pooling import foreground_weights, masked_average_pooling
from .node_grid import NodeGrid
from .resize_concat import ResizeConcatInputsMixin, resize_concat, resize_to
from .shared_forward import shared_forward
from .split_conv import after_conv, conv_channels, splits_by_channels
from .support_encoding import SupportEncoding
from .sync_free_loss import decode_losses, pixel_accuracy, segmentation_loss
from .way_fusion import BACKGROUND_RULES, fuse_ways

__all__ = [
    'EpisodeFeatures', 'foreground_weights', 'masked_average_pooling', 'shared_forward',
    'resize_concat', 'resize_to', 'ResizeConcatInputsMixin', 'SupportEncoding', 'fuse_ways', 'BACKGROUND_RULES', 'clip_grad_cam',
    'class_argmax', 'NodeGrid', 'after_conv', 'conv_channels', 'splits_by_channels',
    'affinity_refine', 'cam_boxes_mask', 'cam_boxes_masks', 'scale_cam', 'decode_losses', 'pixel_accuracy',
    'segmentation_loss', 'LazyLevels', 'map_levels', 'add_levels'
]
