"""mmfss: few-shot semantic segmentation for MMSegmentation 1.x.

Importing this package registers every mmfss module (datasets, transforms, models, metrics,
hooks) into MMSegmentation's registries, so a config only needs::

    default_scope = 'mmseg'
    custom_imports = dict(imports=['mmfss'], allow_failed_imports=False)
"""
import mmcv
import mmengine
from mmengine.utils import digit_version

from .version import __version__, version_info

MMCV_MIN = '2.0.0rc4'
MMCV_MAX = '2.2.0'
MMENGINE_MIN = '0.10.0'
MMENGINE_MAX = '1.0.0'
MMSEG_MIN = '1.2.0'
MMSEG_MAX = '1.3.0'


def _check_version(name: str, version: str, low: str, high: str) -> None:
    if not digit_version(low) <= digit_version(version) < digit_version(high):
        raise ImportError(
            f'mmfss {__version__} needs {low} <= {name} < {high}, but {name} {version} is '
            f'installed. Run `make install` (it builds the pinned stack into .venv/), or '
            f'install a compatible {name}.')


_check_version('mmcv', mmcv.__version__, MMCV_MIN, MMCV_MAX)
_check_version('mmengine', mmengine.__version__, MMENGINE_MIN, MMENGINE_MAX)

import mmseg  # noqa: E402  (mmseg asserts the mmcv range itself; check mmcv first)

_check_version('mmseg', mmseg.__version__, MMSEG_MIN, MMSEG_MAX)

from . import datasets, engine, evaluation, models, utils, visualization  # noqa: E402,F401

__all__ = ['__version__', 'version_info', 'digit_version']
