"""Tiny open_clip architectures (random weights) for the CLIP prior tests: the real ViT and
ModifiedResNet code paths at a size that runs in milliseconds on CPU."""
TEXT = dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1)
TINY_CLIP = {
    'ViT-B-16': dict(embed_dim=32, text_cfg=TEXT,
                     vision_cfg=dict(image_size=64, layers=2, width=32, patch_size=16,
                                     head_width=16)),
    'RN50': dict(embed_dim=32, text_cfg=TEXT,
                 vision_cfg=dict(image_size=64, layers=[1, 1, 1, 1], width=8, head_width=8)),
}


def tiny_clip_neck(**kwargs):
    """A CLIPPriorNeck config with a tiny random model of the given architecture."""
    cfg = dict(type='CLIPPriorNeck', model_name='ViT-B-16', pretrained=None)
    cfg.update(kwargs)
    cfg['model_cfg'] = dict(TINY_CLIP[cfg['model_name']], **cfg.pop('model_cfg_extra', {}))
    return cfg
