default_scope = 'mmseg'
custom_imports = dict(imports=['mmfss'], allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py and tools/test.py switch to gloo when no GPU is present.
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
# Checkpoints hold plain types only, so they load with torch.load(weights_only=True).
# cuDNN autotuning for the fixed-size training crops, not for the evaluation episodes
# (each has its own shape).
custom_hooks = [dict(type='PlainCheckpointHook'), dict(type='CudnnBenchmarkHook')]
# Under DDP every batch norm becomes SyncBN (BAM's train.py: convert_sync_batchnorm on the
# whole model), so the trainable heads normalise over the episodes of all GPUs; frozen
# modules run in eval mode and are unaffected. Single-process runs keep BN (mmengine),
# and CPU runs (gloo) drop it, since SyncBN needs GPUs (mmfss.utils.setup_cpu_dist).
sync_bn = 'torch'
