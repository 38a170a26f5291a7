from .atomic_io import atomic_write, dump_json, save_png
from .checkpoint import (from_plain, is_trusted_checkpoint, load_from_local, to_plain,
                         trust_checkpoint)
from .data_root import set_data_root
from .dist_utils import setup_cpu_dist, teardown_dist
from .effective_batch import config_batch, effective_batch_message
from .tool_checks import (ToolInputError, check_checkpoint_file, check_config_file,
                          check_dataset_paths, check_device, load_tool_config,
                          run_tool)
from .reference_weights import (check_reference_files, convert_bam, convert_bam_pspnet,
                                convert_dinov2, convert_foundationfss, convert_hdmnet,
                                convert_hsnet, convert_pfenet, convert_pfenet_resnet,
                                convert_pfenet_vgg, convert_swin, pretrained_checkpoints)
from .train_then_test import train_then_test

__all__ = [
    'atomic_write', 'dump_json', 'save_png', 'trust_checkpoint', 'is_trusted_checkpoint', 'load_from_local',
    'to_plain', 'from_plain', 'set_data_root', 'setup_cpu_dist', 'teardown_dist',
    'train_then_test', 'ToolInputError', 'check_checkpoint_file', 'check_config_file',
    'check_dataset_paths', 'check_device', 'load_tool_config', 'run_tool',
    'check_reference_files', 'convert_bam_pspnet', 'convert_pfenet_resnet', 'convert_swin',
    'convert_pfenet', 'convert_pfenet_vgg', 'convert_bam', 'convert_hsnet', 'convert_dinov2',
    'convert_hdmnet', 'convert_foundationfss',
    'pretrained_checkpoints', 'config_batch', 'effective_batch_message'
]
