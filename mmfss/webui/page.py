"""The web page (Gradio): few-shot segmentation of one's own images in a browser.

Only this module imports Gradio (the ``[web]`` extra: ``pip install -e .[web]``); nothing
else in mmfss imports it. :func:`serve` is what ``tools/webui.py`` runs.
"""
import atexit
import logging
import os
import os.path as osp
import shutil
import signal
import sys
import tempfile
from typing import Optional

from .callbacks import MAX_SHOTS, MAX_WAYS, PageCallbacks
from .examples import shapes5i_examples
from .segment_session import SegmentSession

__all__ = ['build_page', 'serve', 'GRADIO_VERSIONS']

GRADIO_VERSIONS = ('6.31.0', )  # the versions the page was tested with (setup.py [web])
logger = logging.getLogger('mmfss.webui')

HELP = """
# mmfss: few-shot segmentation of your own images
Give each class one or more **support** images with the object marked, then **query** images:
Segment marks the classes in every query. Mark a support's object with the **brush** (the
pen in the image editor's tool bar) or upload its **mask file** (0/255, 0/1, VOC-style, alpha
cut-outs, colour masks, JPEGs: read by mmfss's mask reader; for label maps give the object's
value under *Mask reading*). Every class needs the same number of supports.
"""


def _import_gradio():
    try:
        import gradio as gr
    except ImportError as err:
        raise ImportError('the web page needs Gradio: pip install -e ".[web]" (tested with '
                          f'gradio {", ".join(GRADIO_VERSIONS)})') from err
    return gr


def build_page(callbacks: PageCallbacks, header: str = ''):
    """The page's :class:`gradio.Blocks`, its first example filled in.

    Args:
        callbacks (PageCallbacks): What its events do.
        header (str): Markdown under the title (the model served).

    Returns:
        gradio.Blocks
    """
    gr = _import_gradio()
    first = callbacks.examples[0].title if callbacks.examples else None
    initial = callbacks.example_values(first) if first else [None] * (
        MAX_WAYS + 2 * MAX_WAYS * MAX_SHOTS + 1)
    names, editors, files = [], [], []
    with gr.Blocks(title='mmfss few-shot segmentation', delete_cache=(1800, 3600)) as page:
        gr.Markdown(HELP)
        gr.Markdown(header)
        with gr.Row():
            example = gr.Dropdown([e.title for e in callbacks.examples], value=first,
                                  label='Example episode (Shapes-5i novel classes)',
                                  elem_id='example', scale=3)
            fill = gr.Button('Fill in the example', elem_id='fill', scale=1)
        with gr.Tabs():
            for way in range(MAX_WAYS):
                with gr.Tab(f'Class {way + 1}', elem_id=f'class{way + 1}-tab'):
                    names.append(gr.Textbox(
                        value=initial[way], label=f'Name of class {way + 1}',
                        placeholder='e.g. dog (needed by text-prior models such as DOTGraph)',
                        elem_id=f'name{way + 1}'))
                    with gr.Row():
                        for shot in range(MAX_SHOTS):
                            slot = 2 * (way * MAX_SHOTS + shot)
                            with gr.Column():
                                editors.append(gr.ImageEditor(
                                    value=initial[MAX_WAYS + slot], type='numpy',
                                    image_mode='RGBA', sources=('upload', 'clipboard'),
                                    transforms=(), layers=False,
                                    label=f'Support {shot + 1}: image, object drawn with '
                                          'the brush', elem_id=f'support{way + 1}-{shot + 1}'))
                                files.append(gr.File(
                                    value=None, type='filepath', label='... or its mask file',
                                    elem_id=f'mask{way + 1}-{shot + 1}'))
        queries = gr.File(value=initial[-1], file_count='multiple', file_types=['image'],
                          type='filepath', label='Query images', elem_id='queries')
        with gr.Accordion('Mask reading and N-way options', open=False):
            with gr.Row():
                mask_value = gr.Textbox(label='Mask value (V or R,G,B) of the object',
                                        elem_id='mask-value')
                mask_threshold = gr.Number(value=None, label='Mask threshold (grey >= T)',
                                           elem_id='mask-threshold')
                rule = gr.Dropdown(['', 'mean', 'threshold'], value='',
                                   label="Background rule (N-way; '' keeps the model's)")
                fg_threshold = gr.Number(value=None, label="Threshold of the 'threshold' rule")
                opacity = gr.Slider(0, 1, value=0.5, step=0.05, label='Overlay opacity')
        segment = gr.Button('Segment', variant='primary', elem_id='segment')
        status = gr.Textbox(label='Status', interactive=False, elem_id='status')
        pictures = dict(height=280, object_fit='contain', preview=False, fit_columns=False)
        overlays = gr.Gallery(label='Overlays', columns=4, elem_id='overlays', **pictures)
        probabilities = gr.Gallery(label='Foreground probability of each class', columns=4,
                                   elem_id='probabilities', **pictures)
        panels = gr.Gallery(label='Panels: supports with their masks, the prediction',
                            columns=1, elem_id='panels', **pictures)
        downloads = gr.File(label='Masks (PNG): *_labels.png holds 0..N, one 0/255 mask per '
                                  'class', file_count='multiple', interactive=False,
                            elem_id='downloads')
        slots = [c for pair in zip(editors, files) for c in pair]
        segment.click(callbacks.segment,
                      inputs=names + slots + [queries, mask_value, mask_threshold, rule,
                                              fg_threshold, opacity],
                      outputs=[status, overlays, probabilities, panels, downloads],
                      concurrency_limit=1)

        def fill_in(title):
            return callbacks.example_values(title)

        fill.click(fill_in, inputs=[example], outputs=names + slots + [queries])
    return page


def serve(config: str,
          checkpoint: Optional[str],
          host: str = '127.0.0.1',
          port: Optional[int] = None,
          device: str = 'cpu',
          max_file_size_mb: float = 20,
          max_queries: int = 16,
          temp_dir: Optional[str] = None) -> None:
    """Load the model and serve the page until interrupted.

    Uploads and results live in one temporary folder, removed when the server stops; files
    older than an hour are deleted while it runs. No public share link is made.

    Args:
        config (str): Config file of the model.
        checkpoint (str, optional): Its checkpoint.
        host (str): Address to listen on (default: this machine only).
        port (int, optional): Port (default: Gradio's first free one from 7860).
        device (str): Device of the model.
        max_file_size_mb (float): Largest upload, in MB.
        max_queries (int): Most query images per request.
        temp_dir (str, optional): Parent of the temporary folder.
    """
    folder = tempfile.mkdtemp(prefix='mmfss-webui-', dir=temp_dir)
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    # a service manager's stop (SIGTERM) ends the server as Ctrl-C does: folder removed
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    os.environ['GRADIO_TEMP_DIR'] = osp.join(folder, 'uploads')
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    gr = _import_gradio()
    from mmfss.apis import FewShotInferencer
    from mmfss.datasets.image_reader import set_pil_pixel_limit
    inferencer = FewShotInferencer(config, checkpoint, device=device, show_progress=False)
    session = SegmentSession(inferencer, osp.join(folder, 'results'), max_queries=max_queries)
    # Gradio decodes the image editors' uploads with PIL before a callback sees them: PIL
    # refuses the oversize ones at Image.open, before decoding (the page's own limit)
    set_pil_pixel_limit(session.max_pixels)
    callbacks = PageCallbacks(session, shapes5i_examples(osp.join(folder, 'examples')))
    page = build_page(callbacks, callbacks.describe(config, checkpoint))
    print(f'mmfss web page: uploads and results in {folder} (removed on exit)', flush=True)
    try:
        page.queue(default_concurrency_limit=1).launch(
            server_name=host, server_port=port, share=False, inbrowser=False,
            max_file_size=int(max_file_size_mb * 1024 * 1024), show_error=False,
            footer_links=[], allowed_paths=[folder], theme=gr.themes.Default())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
