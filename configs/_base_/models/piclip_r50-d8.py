# PI-CLIP (Wang et al., CVPR 2024; vangjin/PI-CLIP model/PI_CLIP.py): HDMNet with CLIP priors
# in place of its CNN priors. The visual-text prior: CLIP ViT-B/16 Grad-CAM of the query
# (CLIPPriorNeck with PI-CLIP's prompts 'a photo of {}.' / 'a photo without {}.' over the
# classes annotated in the query: prompt_classes='query_labels' READS THE QUERY'S LABELS, as
# PI-CLIP's code does; no support prior); the visual-visual prior: cosine maxima between the
# patch tokens of CLIP blocks 11 and 10 of the query and of each masked support
# (CLIPSimilarityNeck on the same CLIP, fed the PSPNet-normalised images as PI-CLIP feeds
# them), one map per block and shot. The visual-text map reaches the node grid as PI-CLIP
# resizes it (prior_resize='via_image': to the image's size, then align_corners=True). The
# hierarchical matching transformer reads the visual-text prior twice and the 2K
# visual-visual maps (PI-CLIP: img_cam.repeat(1, 2, 1, 1) and clip_similarity); the base
# learner runs on layer4 (no PSP level: no prior reads it).
_base_ = ['./hdmnet_r50-d8.py']
clip_neck = dict(
    type='CLIPPriorNeck',
    model_name='ViT-B-16',
    pretrained='openai',
    quick_gelu=True,
    fg_template='a photo of {}.',
    bg_prompt='a photo without {}.',
    background_vocabulary=(),
    prompt_classes='query_labels',
    support_priors=False,
    prior_resize='via_image',  # PI-CLIP: the map to the image's size, then to the grid
    tau=0.01,
    in_index=2,
    prior_keys=('clip_fg', 'clip_bg'))
model = dict(
    necks=[
        clip_neck,
        dict(type='CLIPSimilarityNeck', source='necks.0.clip', layers=(11, 10),
             input_space='data', prior_key='clip_vv'),
    ],
    decode_head=dict(
        meta_head=dict(prior_keys=('clip_fg', 'clip_fg', 'clip_vv'), prior_channels=4),
        base_learner_level=None))
