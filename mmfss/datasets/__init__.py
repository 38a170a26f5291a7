from .base_class_dataset import BaseClassDataset
from .base_episodic_dataset import (BaseEpisodicDataset, UnreadableEpisodeError,
                                    parse_pair_list)
from .class_folder_dataset import ClassFolderDataset
from .class_splits import novel_class_ids
from .coco20i import COCO_CLASSES, COCO20iDataset
from .episodic_seg_dataset import EpisodicSegDataset
from .fss1000 import FSS1000Dataset, fss1000_split_classes
from .image_reader import (DEFAULT_MAX_PIXELS, ImageTooLargeError, UnreadableImageError,
                           read_image, read_image_header)
from .label_stats import scan_label_stats
from .mask_reader import MaskReading, MaskReadingWarning, read_mask
from .pascal5i import PASCAL5iDataset
from .shapes5i import Shapes5iDataset, default_shapes5i_root
from .shapes5i_generator import SHAPES5I_CLASSES, generate_shapes5i
from .transforms import ApplyToEpisode, BinarizeMask, PackEpisodeInputs, masks_to_boxes

__all__ = [
    'BaseEpisodicDataset', 'parse_pair_list', 'BaseClassDataset', 'PASCAL5iDataset',
    'COCO20iDataset', 'COCO_CLASSES', 'FSS1000Dataset', 'fss1000_split_classes',
    'Shapes5iDataset', 'default_shapes5i_root', 'SHAPES5I_CLASSES', 'generate_shapes5i',
    'scan_label_stats', 'ApplyToEpisode', 'BinarizeMask', 'PackEpisodeInputs', 'masks_to_boxes',
    'ClassFolderDataset', 'EpisodicSegDataset', 'novel_class_ids', 'MaskReading',
    'MaskReadingWarning', 'read_mask', 'UnreadableEpisodeError', 'DEFAULT_MAX_PIXELS',
    'ImageTooLargeError', 'UnreadableImageError', 'read_image', 'read_image_header'
]
