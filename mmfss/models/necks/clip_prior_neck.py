import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

from ..utils import EpisodeFeatures
from ..utils.cam_affinity_refinement import affinity_refine, scale_cam
from ..utils.clip_grad_cam import clip_grad_cam, is_vit
from ..utils.clip_weights import build_clip, is_checkpoint_path, is_openai_archive

__all__ = ['CLIPPriorNeck', 'BG_PROMPTS', 'CLIP_ES_BACKGROUND', 'CLIP_ES_CLASS_NAMES',
           'clip_create_kwargs']

# DOTGraph supplement Table 1.
BG_PROMPTS = {
    'without': 'This is an image without {}',  # BG-Prompt1 (DOTGraph's choice)
    'anything': 'This is an image without anything',  # BG-Prompt2 (class agnostic)
    'part': 'This is an image with part of a {}',  # BG-Prompt3
    'none': None,  # no background prompt: no feature disentanglement
}
# CLIP-ES's class-agnostic background vocabulary (its ``clip_text.py``, VOC set), the
# distractors of the prompt softmax.
CLIP_ES_BACKGROUND = ('ground', 'land', 'grass', 'tree', 'building', 'wall', 'sky', 'lake',
                      'water', 'river', 'sea', 'railway', 'railroad', 'keyboard', 'helmet',
                      'cloud', 'house', 'mountain', 'ocean', 'road', 'rock', 'street', 'valley',
                      'bridge', 'sign')
# CLIP-ES's renamed classes (its clip_text.py ``new_class_names`` and
# ``new_class_names_coco``, which PI-CLIP's ``clip/clip_text.py`` copies and prompts with),
# keyed by mmfss's class names (PASCAL VOC's, and COCO's official category names, matched
# by category order with CLIP-ES's PFENet-style COCO list); every other class keeps its
# name. 'sknowboard' is CLIP-ES's spelling.
CLIP_ES_CLASS_NAMES = {
    # PASCAL VOC
    'bird': 'bird avian', 'chair': 'chair seat', 'person': 'person with clothes,people,human',
    'tvmonitor': 'tvmonitor screen',
    # COCO
    'motorcycle': 'motorbike', 'airplane': 'aeroplane', 'backpack': 'backpack,bag',
    'umbrella': 'umbrella,parasol', 'handbag': 'handbag,purse', 'tie': 'necktie',
    'snowboard': 'sknowboard', 'baseball glove': 'glove', 'spoon': 'dessertspoon',
    'couch': 'sofa', 'potted plant': 'pottedplant', 'dining table': 'diningtable',
    'tv': 'tvmonitor screen', 'remote': 'remote control', 'hair drier': 'hairdrier,blowdrier',
}
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def clip_create_kwargs(model_name: str, pretrained: Optional[str],
                       model_cfg: Optional[dict], quick_gelu: Optional[bool] = None) -> dict:
    """Keyword arguments of ``open_clip.create_model``: ``model_cfg``, plus
    ``force_quick_gelu=True`` for weights trained with QuickGELU (OpenAI's: open_clip 3.x
    builds ``'ViT-B-16'`` with GELU and only warns about the mismatch, which would change
    every activation of the CLIP models PI-CLIP runs).

    ``quick_gelu`` None: from the pretrained tag, or, for a checkpoint file, True when it is
    OpenAI's TorchScript archive (an open_clip state dict does not record its activation:
    set ``quick_gelu`` for it)."""
    import open_clip
    kwargs = dict(model_cfg or {})
    if 'force_quick_gelu' in kwargs or (quick_gelu is None and not pretrained):
        return kwargs
    if quick_gelu is None:
        if is_checkpoint_path(pretrained):
            quick_gelu = osp.isfile(pretrained) and is_openai_archive(pretrained)
        else:
            quick_gelu = bool((open_clip.get_pretrained_cfg(model_name, pretrained) or
                               {}).get('quick_gelu'))
    if quick_gelu:
        kwargs['force_quick_gelu'] = True
    return kwargs


@MODELS.register_module()
class CLIPPriorNeck(BaseModule):
    """DOTGraph's CLIP visual-text priors of the query and the supports (supplement §1.1),
    computed as PI-CLIP and CLIP-ES compute their CLIP prior.

    For every image of the episode (query and K supports, one batch) and its episode's class
    ``c`` (``class_name`` in the episode's metainfo; ``_`` becomes a space):

    1. Prompt set (one softmax): the foreground prompt ``fg_template.format(c)``, the
       background prompt (supplement Table 1: ``'without'`` = "This is an image without
       {c}" (default), ``'anything'``, ``'part'``, ``'none'`` or any template) and one
       prompt per word of ``background_vocabulary`` (default :data:`CLIP_ES_BACKGROUND`,
       CLIP-ES's class-agnostic background words, in ``fg_template``). With the
       distractors the background probability is not ``1 - S_f``, so its Grad-CAM carries
       information of its own; a two-prompt set (the supplement's literal ``i in {f, b}``)
       would make the background prior the negative half of the foreground map and is
       refused.
    2. CLIP input: the image (mapped back from the data preprocessor's normalisation) resized
       bicubically to its own size rounded up to the patch size (PI-CLIP's
       ``img_ms_and_flip`` at scale 1; ``input_size='native'``, default) or to a fixed
       size, and normalised with CLIP's statistics.
    3. Grad-CAM (:func:`~mmfss.models.utils.clip_grad_cam.clip_grad_cam`): at the input of
       the last ViT block (``resblocks[-1].ln_1``, as PI-CLIP) or of the ModifiedResNet
       attention pool; the foreground prior explains ``S_f``, the background prior the
       background prompt's probability; both scaled to [0, 1].
    4. Affinity refinement (``affinity_refine``; ViT only; on by default for ViTs, as PI-CLIP
       runs it): the mean patch attention of the last ``affinity_layers`` blocks refines
       each map inside the boxes of its scores above ``box_threshold``
       (:func:`~mmfss.models.utils.cam_affinity_refinement.affinity_refine`), then the map
       is scaled to [0, 1] again.
    5. The maps are resized (bilinear) to the node grid of level ``in_index``. Query priors
       go to ``priors[prior_keys[i]]`` ([B, 1, h, w]), support priors to
       ``extras['support_' + prior_keys[i]]`` ([B, K, 1, hs, ws]); with ``bg_prompt='none'``
       the background prior is all zeros.

    By default no ground truth is read: PI-CLIP builds its prompt set from the classes
    annotated in the query (and returns no prior when the episode's class is absent from
    the annotation); mmfss uses only the episode's class and the fixed class-agnostic
    vocabulary, in training and at test time alike. ``prompt_classes='query_labels'``
    is PI-CLIP's reading, for the config that reproduces it.

    The CLIP weights are frozen and not saved in checkpoints (``save_clip_weights=False``):
    they come from ``pretrained`` again when the model is built.

    Args:
        model_name (str): open_clip architecture, e.g. ``'ViT-B-16'`` or ``'RN50'``.
        pretrained (str, optional): open_clip pretrained tag (``'openai'``: downloaded or
            found in open_clip's cache) or a local checkpoint file: OpenAI's archive
            (``ViT-B-16.pt``) or an open_clip state dict (see
            :mod:`~mmfss.models.utils.clip_weights`); None for random weights (tests).
        quick_gelu (bool, optional): Build the model with QuickGELU (OpenAI's weights);
            None: the tag's setting, or for a file, whether it is OpenAI's archive.
        model_cfg (dict, optional): Overrides of the architecture (open_clip
            ``create_model`` keyword arguments such as ``vision_cfg``), e.g. a tiny model.
        fg_template (str): Foreground prompt template (PI-CLIP's ``'a photo of {}.'``).
        class_names (str | dict): The name of a class in its prompts: ``'clip_es'``
            (default: CLIP-ES's renames, :data:`CLIP_ES_CLASS_NAMES`, as PI-CLIP prompts
            PASCAL-5i and COCO-20i, e.g. "person with clothes,people,human"), ``'plain'``
            (the dataset's names) or a dict of renames.
        bg_prompt (str): Key of :data:`BG_PROMPTS` or a template.
        background_vocabulary (Sequence[str]): Class-agnostic distractor words.
        tau (float): Temperature (0.01 = CLIP's logit scale of 100, as PI-CLIP).
        input_size (str | int | tuple): ``'native'`` or the CLIP input size.
        affinity_refine (bool, optional): Attention-affinity refinement; None: on for ViTs,
            off for ModifiedResNets (their attention pool has no patch-to-patch attention).
        affinity_layers (int): Last blocks whose attention is averaged (8, as PI-CLIP).
        box_threshold (float): Box threshold of the refinement (0.4, as PI-CLIP).
        in_index (int): Backbone level whose grid the priors are resized to.
        prior_keys (Sequence[str]): Names of the foreground and background priors.
        data_mean, data_std (Sequence[float]): The data preprocessor's normalisation.
        save_clip_weights (bool): Keep the CLIP weights in ``state_dict()``.
        prompt_classes (str): ``'episode'`` (default): the episode's class alone (with the
            background vocabulary as distractors). ``'query_labels'``: **reads the query's
            labels**: the query's prompt set is the foreground prompts of every class
            annotated in the query, then their background prompts (metainfo
            ``query_class_names``, set by the episodic datasets from their image lists),
            the CAM explaining the episode's class, as PI-CLIP's ``get_img_cam`` builds it
            from the query's annotation (a class absent from it, e.g. a way of an N-way
            query, is added to the set; PI-CLIP's code returns a constant 255 map there);
            the supports keep the episode mode. Off by
            default: a test-time prior that reads the query's ground truth is not a few-shot
            prediction; only the config that reproduces PI-CLIP turns it on.
        support_priors (bool): Also compute the supports' priors (DOTGraph reads them;
            PI-CLIP's visual-text prior is the query's alone: False skips the supports'
            Grad-CAM).
        prior_resize (str): How a map at CLIP's patch grid reaches the node grid.
            ``'direct'`` (default): one bilinear resize (half-pixel). ``'via_image'``
            (PI-CLIP): first to the image's own size (``scale_cam_image``'s
            ``cv2.resize``, half-pixel), then to the node grid with ``align_corners=True``
            (``F.interpolate`` in ``PI_CLIP.forward``); the two differ by up to a few
            hundredths at the borders of a map.
    """

    def __init__(self,
                 model_name: str = 'ViT-B-16',
                 pretrained: Optional[str] = 'openai',
                 model_cfg: Optional[dict] = None,
                 quick_gelu: Optional[bool] = None,
                 fg_template: str = 'a photo of {}.',
                 class_names: Union[str, Dict[str, str]] = 'clip_es',
                 bg_prompt: str = 'without',
                 background_vocabulary: Sequence[str] = CLIP_ES_BACKGROUND,
                 tau: float = 0.01,
                 input_size: Union[str, int, Sequence[int]] = 'native',
                 affinity_refine: Optional[bool] = None,
                 affinity_layers: int = 8,
                 box_threshold: float = 0.4,
                 in_index: int = -1,
                 prior_keys: Sequence[str] = ('clip_fg', 'clip_bg'),
                 data_mean: Sequence[float] = (123.675, 116.28, 103.53),
                 data_std: Sequence[float] = (58.395, 57.12, 57.375),
                 save_clip_weights: bool = False,
                 prompt_classes: str = 'episode',
                 support_priors: bool = True,
                 prior_resize: str = 'direct',
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        import open_clip
        if prompt_classes not in ('episode', 'query_labels'):
            raise ValueError(f"prompt_classes must be 'episode' or 'query_labels', got "
                             f'{prompt_classes!r}')
        self.prompt_classes, self.support_priors = prompt_classes, support_priors
        if prior_resize not in ('direct', 'via_image'):
            raise ValueError(f"prior_resize must be 'direct' or 'via_image', got "
                             f'{prior_resize!r}')
        self.prior_resize = prior_resize
        if not tau > 0:
            raise ValueError(f'tau must be > 0, got {tau!r}')
        if isinstance(class_names, dict):
            self.class_name_map = dict(class_names)
        elif class_names in ('clip_es', 'plain'):
            self.class_name_map = CLIP_ES_CLASS_NAMES if class_names == 'clip_es' else {}
        else:
            raise ValueError(f"class_names must be 'clip_es', 'plain' or a dict, got "
                             f'{class_names!r}')
        self.bg_template = BG_PROMPTS.get(bg_prompt, bg_prompt)
        if bg_prompt not in BG_PROMPTS and '{' not in str(bg_prompt):
            raise ValueError(f'bg_prompt must be one of {sorted(BG_PROMPTS)} or a template '
                             f'with {{}}, got {bg_prompt!r}')
        self.background_vocabulary = tuple(background_vocabulary or ())
        if (self.bg_template is not None and not self.background_vocabulary
                and prompt_classes == 'episode'):
            raise ValueError(
                'background_vocabulary is empty: over the two prompts {foreground, background} '
                'the softmax gives S_b = 1 - S_f, so the background prior would be the '
                "foreground's negative half; give distractor words (default CLIP-ES's)")
        if len(prior_keys) != 2:
            raise ValueError(f'prior_keys names the foreground and background priors, got '
                             f'{prior_keys}')
        sides = ([input_size] if isinstance(input_size, int) else list(input_size)
                 if isinstance(input_size, (tuple, list)) else [])
        if input_size != 'native' and not (len(sides) in (1, 2) and all(
                isinstance(v, int) and v > 0 for v in sides)):
            raise ValueError(f"input_size must be 'native', a positive int or (h, w), got "
                             f'{input_size!r}')
        if not 0 <= box_threshold < 1:
            raise ValueError(f'box_threshold must be in [0, 1), got {box_threshold!r}')
        self.clip = build_clip(model_name, pretrained,
                               clip_create_kwargs(model_name, pretrained, model_cfg, quick_gelu),
                               config_key='the CLIPPriorNeck pretrained setting (clip_neck.'
                                          'pretrained in the DOTGraph configs)')
        self.clip.eval()
        for p in self.clip.parameters():
            p.requires_grad = False
        self.vit = is_vit(self.clip.visual)
        if affinity_refine is None:
            affinity_refine = self.vit
        if affinity_refine and not self.vit:
            raise ValueError(f'affinity_refine=True needs a ViT; {model_name} is a '
                             'ModifiedResNet, whose attention pool has no patch-to-patch '
                             'attention')
        if affinity_refine and not (isinstance(affinity_layers, int) and affinity_layers >= 1):
            raise ValueError(f'affinity_layers must be an int >= 1, got {affinity_layers!r}')
        self.affinity_refine = bool(affinity_refine)
        self.affinity_layers = affinity_layers
        self.box_threshold = box_threshold
        self.input_size = input_size
        self.stride = self.clip.visual.patch_size[0] if self.vit else 32
        self.tokenizer = open_clip.get_tokenizer(model_name)
        self.model_name = model_name
        self.fg_template = fg_template
        self.tau = tau
        self.in_index = in_index
        self.prior_keys = tuple(prior_keys)
        preprocess = getattr(self.clip.visual, 'preprocess_cfg', None) or {}
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
    def prompts(self, class_name: Union[str, Sequence[str]]) -> List[str]:
        """The prompt set of one image: the foreground prompt of each class, their
        background prompts (unless ``'none'``), then the background vocabulary. One class
        (a str): foreground, background, vocabulary."""
        names = [class_name] if isinstance(class_name, str) else list(class_name)
        names = [self.class_name_map.get(n, n).replace('_', ' ') for n in names]
        prompts = [self.fg_template.format(n) for n in names]
        if self.bg_template is not None:
            prompts += [self.bg_template.format(n) for n in names]
        return prompts + [self.fg_template.format(w) for w in self.background_vocabulary]

    @torch.compiler.disable  # tokenizer and cache: host work, outside a compiled graph
    @torch.no_grad()
    def text_embeddings(self, class_names: Sequence[str]) -> Tensor:
        """[N, P, D] normalised embeddings of each image's prompt set, cached per prompt."""
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

    def clip_input_size(self, size: Sequence[int]) -> Tuple[int, int]:
        """CLIP's input size for an image of ``size`` (h, w)."""
        if self.input_size == 'native':
            return tuple(-(-int(s) // self.stride) * self.stride for s in size)
        if isinstance(self.input_size, int):
            return (self.input_size, self.input_size)
        return tuple(self.input_size)

    def to_clip(self, images: Tensor) -> Tensor:
        """Preprocessor-normalised images [N, 3, H, W] -> CLIP's input (bicubic resize)."""
        dtype = next(self.clip.visual.parameters()).dtype
        with torch.inference_mode(False):
            rgb01 = (images.detach().clone().to(dtype) * self.data_std.to(dtype)
                     + self.data_mean.to(dtype)) / 255.0
            size = self.clip_input_size(images.shape[-2:])
            if tuple(rgb01.shape[-2:]) != size:
                rgb01 = F.interpolate(rgb01, size=size, mode='bicubic', align_corners=False)
            return (rgb01 - self.clip_mean.to(dtype)) / self.clip_std.to(dtype)

    # the Grad-CAM differentiates CLIP itself and boxes its maps on the host: eager under
    # torch.compile, one graph break per call
    @torch.compiler.disable
    def cams(self, images: Tensor, class_names: Sequence, target: int = 0) -> Dict[str, Tensor]:
        """Scaled (and refined) CAMs [N, T, h, w] at CLIP's patch grid of ``images``; T = 2
        (foreground, background) or 1 with ``bg_prompt='none'``. Also returns what
        :func:`clip_grad_cam` returns. ``class_names``: one class per image, or one list of
        classes per image (all of the same length) whose ``target``-th is explained."""
        text = self.text_embeddings(class_names)
        n = 1 if isinstance(class_names[0], str) else len(class_names[0])
        targets = [target] if self.bg_template is None else [target, n + target]
        out = clip_grad_cam(self.clip.visual, self.to_clip(images), text.to(
            next(self.clip.visual.parameters()).dtype), targets, self.tau,
            self.affinity_layers if self.affinity_refine else 0)
        # pytorch_grad_cam (vendored by PI-CLIP) scales each layer's CAM, then the mean over
        # layers again; with one layer the second pass matters where the raw CAM is small
        # (scale_cam's eps of 1e-7 is absolute)
        maps = scale_cam(scale_cam(out['cams']))
        if self.affinity_refine:
            maps = scale_cam(affinity_refine(maps, out['affinity'], self.box_threshold))
        out['maps'] = maps
        return out

    # ------------------------------------------------------------------ forward
    def priors(self, images: Tensor, class_names: Sequence[str],
               size: Tuple[int, int], label_sets: Optional[Sequence[Sequence[str]]] = None
               ) -> List[Tensor]:
        """Foreground and background priors of ``images`` [N, 3, H, W] of classes
        ``class_names``, each [N, 1, *size] in [0, 1] (the background one all zeros with
        ``bg_prompt='none'``). ``label_sets``: per image, the classes of its prompt set
        (``prompt_classes='query_labels'``), image by image."""
        if label_sets is None:
            maps = self.cams(images, class_names)['maps']
        else:
            maps = torch.cat([
                self.cams(images[i:i + 1], [list(labels)], list(labels).index(name))['maps']
                for i, (name, labels) in enumerate(zip(class_names, label_sets))])
        if self.prior_resize == 'via_image':
            maps = F.interpolate(maps, size=tuple(images.shape[-2:]), mode='bilinear',
                                 align_corners=False)
        maps = F.interpolate(maps, size=tuple(size), mode='bilinear',
                             align_corners=self.prior_resize == 'via_image'
                             ).clamp_(0, 1).to(images.dtype)
        fg = maps[:, :1]
        bg = maps[:, 1:2] if maps.shape[1] > 1 else torch.zeros_like(fg)
        return [fg, bg]

    def _query_labels(self, feats: EpisodeFeatures,
                      names: Sequence[str]) -> Optional[List[List[str]]]:
        """The classes annotated in each query (``prompt_classes='query_labels'``)."""
        if self.prompt_classes != 'query_labels':
            return None
        sets = []
        for i, (meta, name) in enumerate(zip(feats.img_metas, names)):
            labels = meta.get('query_class_names')
            if labels is None:
                raise ValueError(
                    "CLIPPriorNeck(prompt_classes='query_labels') reads the classes annotated "
                    f"in each query (metainfo 'query_class_names', set by the episodic "
                    f'datasets); episode {i} (class {name!r}) has none')
            # a class absent from the annotation (an N-way query): PI-CLIP's code returns a
            # map of 255 for the whole batch there; mmfss adds the class to the set
            sets.append(list(labels) + ([] if name in labels else [name]))
        return sets

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
        query = self.priors(feats.query_inputs, names, q_size, self._query_labels(feats, names))
        if not self.support_priors:
            for key, q in zip(self.prior_keys, query):
                feats.priors[key] = q
            return feats

        def support_priors(n: int) -> List[Tensor]:
            # supports depend on nothing else: computed once per support encoding
            return self.priors(feats.support_inputs[:n].flatten(0, 1),
                               [name for name in names[:n] for _ in range(k)], s_size)

        support = feats.support_only(f'{type(self).__name__}:{",".join(self.prior_keys)}',
                                     support_priors)
        for key, q, s in zip(self.prior_keys, query, support):
            feats.priors[key] = q
            feats.extras[f'support_{key}'] = s.view(b, k, 1, *s_size)
        return feats
