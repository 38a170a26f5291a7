# CPU-sized PI-CLIP meta learner on Shapes-5i (fold 0, 1-shot): the demo's half-width ResNet-18
# and schedule, supports masked at the input, a tiny randomly initialised open_clip ViT (two
# blocks: the visual-visual prior reads both), the visual-text prior of the query from the
# episode's class alone (prompt_classes='episode', label-free, with CLIP-ES's background words
# as distractors, resized to the grid as PI-CLIP does), and the hierarchical matching
# transformer at 32 channels over the 12x12 grid.
# No base-class PSPNet on Shapes-5i: the meta learner predicts alone, the backbone trains.
_base_ = ['../hdmnet/hdmnet_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py']
model = dict(
    necks=[
        dict(
            type='CLIPPriorNeck',
            model_name='ViT-B-16',
            pretrained=None,
            model_cfg=dict(
                embed_dim=64,
                vision_cfg=dict(image_size=64, layers=2, width=64, patch_size=16,
                                head_width=32),
                text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=2,
                              layers=2)),
            fg_template='a photo of {}.',
            bg_prompt='a photo without {}.',
            support_priors=False,
            prior_resize='via_image',
            in_index=2,
            prior_keys=('clip_fg', 'clip_bg')),
        dict(type='CLIPSimilarityNeck', source='necks.0.clip', layers=(1, 0),
             input_space='data', prior_key='clip_vv'),
    ],
    decode_head=dict(prior_keys=('clip_fg', 'clip_fg', 'clip_vv'), prior_channels=4))
