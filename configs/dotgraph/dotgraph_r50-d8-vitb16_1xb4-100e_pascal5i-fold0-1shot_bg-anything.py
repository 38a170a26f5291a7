# Supplement Table 1: BG-Prompt2, "This is an image without anything" (class agnostic).
_base_ = ['./dotgraph_r50-d8-vitb16_1xb4-100e_pascal5i-fold0-1shot.py']
model = dict(necks=[{{_base_.prior_neck}}, dict(
        type='CLIPPriorNeck', model_name='ViT-B-16', pretrained='openai', quick_gelu=True,
        fg_template='a photo of {}.', bg_prompt='anything', tau=0.01, in_index=2,
        prior_keys=('clip_fg', 'clip_bg')), {{_base_.graph_neck}}])
