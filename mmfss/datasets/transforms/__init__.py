from .binarize_mask import BinarizeMask, masks_to_boxes
from .episode_wrapper import ApplyToEpisode
from .formatting import PackEpisodeInputs
from .protocol_test_resize import ProtocolTestResize
from .random_gaussian_blur import RandomGaussianBlur
from .random_rescale import RandomRescale

__all__ = [
    'ApplyToEpisode', 'BinarizeMask', 'PackEpisodeInputs', 'masks_to_boxes', 'ProtocolTestResize',
    'RandomGaussianBlur', 'RandomRescale'
]
