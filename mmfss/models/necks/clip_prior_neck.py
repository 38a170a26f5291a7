from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

from ..utils import EpisodeFeatures

__all__ = ['CLIPPriorNeck', 'visual_text_prior', 'BG_PROMPTS']

# DOTGraph supplement Table 1.
BG_PROMPTS = {
    'without': 'This is an image without {}',  # BG-Prompt1 (DOTGraph's choice)
    'anything': 'This is an image without anything',  # BG-Prompt2 (class agnostic)
    'part': 'This is an image with part of a {}',  # BG-Prompt3
    'none': None,  # no background prompt: no feature disentanglement
}
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def visual_text_prior(feature_map: Tensor, text_fg: Tensor, text_bg: Optional[Tensor],
                      tau: float) -> Dict[str, Tensor]:
    """DOTGraph's Grad-CAM-style visual-text prior (supplement §1.1).

    With ``F`` the dense visual features and ``F_t`` the text embeddings:
    ``v = mean_ij F(i, j)``; ``S = softmax_{f, b}(cos(v, F_t) / tau)``;
    ``w_m = mean_ij dS_f / dF^m(i, j)``; ``P_vt = ReLU(sum_m w_m F^m)``; the background
    prior is the same with ``S_b``. Without a background prompt (``text_bg=None``) the
    softmax over one class is constant, so the score is ``cos(v, F_f) / tau`` itself.

    The gradient is taken with respect to a detached copy of ``feature_map`` with autograd
    switched on locally, so it works inside ``torch.no_grad()`` and inference mode, and the
    priors carry no gradient.

    Args:
        feature_map (Tensor): [N, D, h, w] dense features in the joint embedding space.
        text_fg (Tensor): [N, D] foreground text embedding of each image.
        text_bg (Tensor, optional): [N, D] background text embedding of each image.
        tau (float): Softmax temperature.

    Returns:
        dict: ``fg`` and (with ``text_bg``) ``bg`` priors [N, 1, h, w] (not normalised),
        ``weights_fg`` (and ``weights_bg``) [N, D], and ``scores`` [N, 2] (or [N, 1]).
    """
    with torch.inference_mode(False), torch.enable_grad():
        fmap = feature_map.detach().clone().float().requires_grad_(True)
        v = fmap.mean(dim=(2, 3))
        texts = [text_fg] if text_bg is None else [text_fg, text_bg]
        cos = torch.stack([F.cosine_similarity(v, t.detach().clone().float(), dim=1)
                           for t in texts], dim=1) / tau
        scores = cos if text_bg is None else cos.softmax(dim=1)
        out = dict(scores=scores.detach())
        for i, name in enumerate(['fg', 'bg'][:len(texts)]):
            grad, = torch.autograd.grad(scores[:, i].sum(), fmap, retain_graph=i + 1 < len(texts))
            weights = grad.mean(dim=(2, 3))  # [N, D]
            out[f'weights_{name}'] = weights.detach()
            out[name] = F.relu((weights[:, :, None, None] * fmap).sum(dim=1, keepdim=True)).detach()
    return out


def _minmax(x: Tensor, eps: float = 1e-12) -> Tensor:
    """Min-max normalise each map to [0, 1] (a constant map becomes 0)."""
    low = x.amin(dim=(-2, -1), keepdim=True)
    high = x.amax(dim=(-2, -1), keepdim=True)
    return (x - low) / (high - low).clamp_min(eps)


@MODELS.register_module()
class CLIPPriorNeck(BaseModule):
    """DOTGraph's CLIP visual-text priors of the query and the supports (supplement §1.1).

    A frozen open_clip model encodes every image of the episode (query and K supports, one
    batch) into a dense feature map ``F`` in CLIP's joint embedding space: for ViTs, the
    patch tokens of the last block after ``ln_post`` and the projection; for ModifiedResNets
    (RN50, ...), layer4 passed through the attention pool's value and output projections at
    every position (MaskCLIP's dense features; the attention pool itself only yields one
    vector). Prompts: the foreground template with the class name (``class_name`` in each
    episode's metainfo; ``_`` becomes a space) and a background prompt (Table 1:
    ``'without'`` = "This is an image without {}" (default), ``'anything'``, ``'part'``,
    ``'none'``, or any template). Text embeddings are computed once per prompt and cached.
    :func:`visual_text_prior` gives the foreground and background priors, which are resized
    (bilinear) to the node grid of level ``in_index`` and min-max normalised to [0, 1] per
    image. Query priors go to ``priors[prior_keys[i]]`` ([B, 1, h, w]), support priors to
    ``extras['support_' + prior_keys[i]]`` ([B, K, 1, hs, ws]).

    The images arrive normalised by the data preprocessor (``data_mean``/``data_std`` on
    0..255, RGB); they are mapped back and re-normalised with CLIP's statistics at CLIP's
    input size. The CLIP weights are not saved in checkpoints (``save_clip_weights=False``):
    they come from ``pretrained`` again when the model is built.

    Args:
        model_name (str): open_clip architecture, e.g. ``'ViT-B-16'`` or ``'RN50'``.
        pretrained (str, optional): open_clip pretrained tag (``'openai'``) or a local
            checkpoint path; None for random weights (tests).
        model_cfg (dict, optional): Overrides of the architecture (open_clip
            ``create_model`` keyword arguments such as ``vision_cfg``), e.g. a tiny model.
        fg_template (str): Foreground prompt template.
        bg_prompt (str): Key of :data:`BG_PROMPTS` or a template.
        tau (float): Temperature (0.01 = CLIP's logit scale of 100).
        in_index (int): Backbone level whose grid the priors are resized to.
        prior_keys (Sequence[str]): Names of the foreground and background priors.
        data_mean, data_std (Sequence[float]): The data preprocessor's normalisation.
        save_clip_weights (bool): Keep the CLIP weights in ``state_dict()``.
    """

    def __init__(self,
                 model_name: str = 'ViT-B-16',
                 pretrained: Optional[str] = 'openai',
                 model_cfg: Optional[dict] = None,
                 fg_template: str = 'a photo of a {}.',
                 bg_prompt: str = 'without',
                 tau: float = 0.01,
                 in_index: int = -1,
                 prior_keys: Sequence[str] = ('clip_fg', 'clip_bg'),
                 data_mean: Sequence[float] = (123.675, 116.28, 103.53),
                 data_std: Sequence[float] = (58.395, 57.12, 57.375),
                 save_clip_weights: bool = False,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        import open_clip
        if not tau > 0:
            raise ValueError(f'tau must be > 0, got {tau!r}')
        self.bg_template = BG_PROMPTS.get(bg_prompt, bg_prompt)
        if bg_prompt not in BG_PROMPTS and '{' not in str(bg_prompt):
            raise ValueError(f'bg_prompt must be one of {sorted(BG_PROMPTS)} or a template '
                             f'with {{}}, got {bg_prompt!r}')
        if len(prior_keys) != 2:
            raise ValueError(f'prior_keys names the foreground and background priors, got '
                             f'{prior_keys}')
        self.clip = open_clip.create_model(model_name, pretrained=pretrained,
                                           **(model_cfg or {}))
        self.clip.eval()
        for p in self.clip.parameters():
            p.requires_grad = False
        self.tokenizer = open_clip.get_tokenizer(model_name)
        self.model_name = model_name
        self.fg_template = fg_template
        self.tau = tau
        self.in_index = in_index
        self.prior_keys = tuple(prior_keys)
        preprocess = getattr(self.clip.visual, 'preprocess_cfg', None) or {}
        size = getattr(self.clip.visual, 'image_size', 224)
        self.image_size = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
        self.register_buffer('data_mean', torch.tensor(data_mean).view(1, 3, 1, 1), False)
        self.register_buffer('data_std', torch.tensor(data_std).view(1, 3, 1, 1), False)
        self.register_buffer('clip_mean', torch.tensor(preprocess.get('mean', OPENAI_MEAN))
                             .view(1, 3, 1, 1), False)
        self.register_buffer('clip_std', torch.tensor(preprocess.get('std', OPENAI_STD))
                             .view(1, 3, 1, 1), False)
        self._text_cache: Dict[Tuple[str, str], Tensor] = {}
        self.save_clip_weights = save_clip_weights
        self._register_state_dict_hook(CLIPPriorNeck._drop_clip_weights)
        self._register_load_state_dict_pre_hook(self._restore_clip_weights, with_module=True)

    # ------------------------------------------------------------------ checkpoints
    @staticmethod
    def _drop_clip_weights(module, state_dict, prefix, local_metadata):
        if not module.save_clip_weights:
            for key in [k for k in state_dict if k.startswith(prefix + 'clip.')]:
                del state_dict[key]
        return state_dict

    @staticmethod
    def _restore_clip_weights(module, state_dict, prefix, *args):
        # checkpoints without the CLIP weights load strictly: keep the built ones
        if not any(k.startswith(prefix + 'clip.') for k in state_dict):
            for name, value in module.clip.state_dict().items():
                state_dict[f'{prefix}clip.{name}'] = value

    def train(self, mode: bool = True) -> 'CLIPPriorNeck':
        super().train(mode)
        self.clip.eval()  # frozen
        return self

    # ------------------------------------------------------------------ encoders
    def prompts(self, class_name: str) -> List[str]:
        name = class_name.replace('_', ' ')
        prompts = [self.fg_template.format(name)]
        if self.bg_template is not None:
            prompts.append(self.bg_template.format(name))
        return prompts

    @torch.no_grad()
    def text_embeddings(self, class_names: Sequence[str]) -> Tensor:
        """[N, P, D] normalised embeddings of each image's prompts (P = 1 or 2), cached."""
        device = self.clip_mean.device
        wanted = [p for n in class_names for p in self.prompts(n)]
        missing = sorted({p for p in wanted if (p, str(device)) not in self._text_cache})
        if missing:
            with torch.inference_mode(False):
                emb = self.clip.encode_text(self.tokenizer(missing).to(device))
            emb = F.normalize(emb.float(), dim=-1)
            for prompt, e in zip(missing, emb):
                self._text_cache[(prompt, str(device))] = e.clone()
        per_image = len(self.prompts(class_names[0]))
        stacked = torch.stack([self._text_cache[(p, str(device))] for p in wanted])
        return stacked.view(len(class_names), per_image, -1)

    def _to_clip(self, images: Tensor) -> Tensor:
        rgb01 = (images.float() * self.data_std + self.data_mean) / 255.0
        rgb01 = F.interpolate(rgb01, size=self.image_size, mode='bilinear', align_corners=False)
        return (rgb01 - self.clip_mean) / self.clip_std

    @torch.no_grad()
    def dense_features(self, images: Tensor) -> Tensor:
        """[N, D, h, w] CLIP features in the joint space of CLIP-normalised images."""
        visual = self.clip.visual
        if hasattr(visual, 'attnpool'):  # ModifiedResNet
            x = visual.stem(images)
            for layer in (visual.layer1, visual.layer2, visual.layer3, visual.layer4):
                x = layer(x)
            pool = visual.attnpool
            tokens = pool.c_proj(pool.v_proj(x.flatten(2).transpose(1, 2)))  # [N, hw, D]
            return tokens.transpose(1, 2).reshape(x.shape[0], -1, *x.shape[-2:])
        out = visual.forward_intermediates(images, indices=1, normalize_intermediates=True,
                                           intermediates_only=True, output_fmt='NLC')
        tokens = out['image_intermediates'][-1]  # [N, hw, width], ln_post applied
        if visual.proj is not None:
            tokens = tokens @ visual.proj
        gh = images.shape[-2] // visual.patch_size[0]
        gw = images.shape[-1] // visual.patch_size[1]
        return tokens.transpose(1, 2).reshape(images.shape[0], -1, gh, gw)

    # ------------------------------------------------------------------ forward
    def priors(self, images: Tensor, class_names: Sequence[str],
               sizes: Sequence[Tuple[int, int]]) -> List[Tensor]:
        """Normalised foreground/background priors of ``images`` [N, 3, H, W].

        Returns:
            list[Tensor]: [N, 1, h, w] per prior key (the background one is all zeros with
            ``bg_prompt='none'``), resized to ``sizes[0]`` (one grid for all images).
        """
        with torch.inference_mode(False):
            clip_in = self._to_clip(images.detach().clone())
        fmap = self.dense_features(clip_in)
        text = self.text_embeddings(class_names)
        out = visual_text_prior(fmap, text[:, 0], text[:, 1] if text.shape[1] > 1 else None,
                                self.tau)
        maps = []
        for name in ('fg', 'bg'):
            p = out.get(name, torch.zeros_like(out['fg']))
            p = F.interpolate(p, size=sizes[0], mode='bilinear', align_corners=False)
            maps.append(_minmax(p).to(images.dtype))
        return maps

    def forward(self, feats: EpisodeFeatures) -> EpisodeFeatures:
        b, k = feats.batch_size, feats.shot
        names = [m.get('class_name') for m in feats.img_metas]
        if len(names) != b or any(not n for n in names):
            raise ValueError('CLIPPriorNeck needs the class name of every episode '
                             "(metainfo 'class_name', set by the episodic datasets); got "
                             f'{names}')
        for key in self.prior_keys:
            if key in feats.priors:
                raise KeyError(f'prior {key!r} already exists; give each prior neck its own keys')
        q_size = feats.query_feats[self.in_index].shape[-2:]
        s_size = feats.support_feats[self.in_index].shape[-2:]
        query = self.priors(feats.query_inputs, names, [q_size])

        def support_priors(n: int) -> List[Tensor]:
            # supports depend on nothing else: computed once per support encoding
            return self.priors(feats.support_inputs[:n].flatten(0, 1),
                               [name for name in names[:n] for _ in range(k)], [s_size])

        support = feats.support_only(f'{type(self).__name__}:{",".join(self.prior_keys)}',
                                     support_priors)
        for key, q, s in zip(self.prior_keys, query, support):
            feats.priors[key] = q
            feats.extras[f'support_{key}'] = s.view(b, k, 1, *s_size)
        return feats
