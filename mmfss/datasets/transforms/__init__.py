from .binarize_mask import BinarizeMask, masks_to_boxes
from .episode_wrapper import ApplyToEpisode
from .formatting import PackEpisodeInputs

__all__ = ['ApplyToEpisode', 'BinarizeMask', 'PackEpisodeInputs', 'masks_to_boxes']
