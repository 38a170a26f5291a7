# Speed option (changes results, not the paper's setting): the CLIP prior's Grad-CAM runs on
# the images resized to 384x384 (24x24 patches) instead of their native 480 (30x30; PI-CLIP's
# scale 1), 0.64 of CLIP's tokens. Speed and Shapes-5i effect: docs/speed.md.
_base_ = ['./dotgraph_r50-d8-vitb16_1xb4-100e_pascal5i-fold0-1shot.py']
model = dict(
    necks=[{{_base_.prior_neck}},
           dict(type='CLIPPriorNeck', model_name='ViT-B-16', pretrained='openai',
                quick_gelu=True, fg_template='a photo of {}.', bg_prompt='without', tau=0.01,
                in_index=2, prior_keys=('clip_fg', 'clip_bg'), input_size=384),
           {{_base_.graph_neck}}])
