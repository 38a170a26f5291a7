from .data_preprocessor import FewShotDataPreProcessor
from .decode_heads import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from .segmentors import *  # noqa: F401,F403
from .utils import EpisodeFeatures

__all__ = ['FewShotDataPreProcessor', 'EpisodeFeatures']
