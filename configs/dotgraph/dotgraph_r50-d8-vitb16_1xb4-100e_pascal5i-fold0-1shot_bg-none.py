# Supplement Table 1: "No BG Prompt at all: essentially, no feature disentanglement stage": no
# background prompt or prior, and no disentanglement on either side: the graph transports every
# support node with uniform mass to a uniform query, SQA attends to every support node, the
# query's CLIP prior only reaches the decoder (no object/background split, so no graph
# contrastive loss, which contrasts the two).
_base_ = ['./dotgraph_r50-d8-vitb16_1xb4-100e_pascal5i-fold0-1shot.py']
model = dict(
    necks=[{{_base_.prior_neck}}, dict(
        type='CLIPPriorNeck', model_name='ViT-B-16', pretrained='openai', quick_gelu=True,
        fg_template='a photo of {}.', bg_prompt='none', tau=0.01, in_index=2,
        prior_keys=('clip_fg', 'clip_bg')), dict(
        type='OTGraphNeck', in_channels=[512, 1024], in_index=[1, 2], channels=256,
        attn_channels=128, num_iters=2, use_ot=True, use_sqa=True, ot_eps=0.1, ot_iters=3,
        query_prior_key=None, support_bg_prior_key=None, query_mass='uniform',
        sqa_keys='all', sqa_query_object=False, disentangle=False,
        loss_contrast=None,
        loss_support=dict(type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True,
                          loss_name='loss_support'))],
    decode_head=dict(meta_head=dict(prior_keys=('prior', 'clip_fg'))))
