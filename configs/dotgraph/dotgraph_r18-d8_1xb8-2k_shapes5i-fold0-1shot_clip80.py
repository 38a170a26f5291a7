# Shapes-5i DOTGraph with the CLIP prior's Grad-CAM on 80x80 inputs (5x5 patches) instead of
# the native 96 (6x6): the speed option of the paper config's _clip384 variant at this scale
# (it changes results, docs/speed.md).
_base_ = ['./dotgraph_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py']
model = dict(
    necks=[{{_base_.prior_neck}},
           dict(type='CLIPPriorNeck', model_name='ViT-B-16', pretrained=None,
                model_cfg={{_base_.tiny_clip}}, in_index=2, prior_keys=('clip_fg', 'clip_bg'),
                input_size=80),
           {{_base_.graph_neck}}])
