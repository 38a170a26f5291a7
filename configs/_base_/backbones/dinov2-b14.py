# DINOv2 ViT-B/14 (Oquab et al.; facebookresearch/dinov2), frozen as the foundation-model FSS
# methods keep it: blocks 4, 6, 8 and 12 (0-based 3, 5, 7, 11) as four levels of 768 channels
# at 1/14 (normalised, as get_intermediate_layers), position embeddings interpolated as
# DINOv2 does. Weights: pretrain/dinov2_vitb14.pth (dinov2_vitb14_pretrain.pth converted with
# tools/model_converters/dinov2_to_mmfss.py; docs/backbones.md).
dinov2_checkpoint = 'pretrain/dinov2_vitb14.pth'
dinov2_b14 = dict(
    _delete_=True,
    type='DINOv2',
    arch='base',
    out_indices=(3, 5, 7, 11),
    frozen=True,
    init_cfg=dict(type='Pretrained', checkpoint=dinov2_checkpoint))
