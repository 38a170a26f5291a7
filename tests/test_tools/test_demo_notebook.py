"""demo/inference_demo.ipynb runs from top to bottom (so it cannot rot), on a model the
test suite trains."""
import json
import os

import pytest

from ..conftest import REPO


@pytest.mark.slow
def test_inference_notebook_executes(trained_shapes_model, monkeypatch):
    nbformat = pytest.importorskip('nbformat', reason='the tests extra installs nbformat')
    from nbclient import NotebookClient
    config, checkpoint = trained_shapes_model
    monkeypatch.setenv('MMFSS_CONFIG', config)
    monkeypatch.setenv('MMFSS_CHECKPOINT', checkpoint)
    notebook = nbformat.read(f'{REPO}/demo/inference_demo.ipynb', as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name='python3',
                   resources={'metadata': {'path': f'{REPO}/demo'}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == 'code'
               for o in cell.get('outputs', [])]
    assert not [o for o in outputs if o.output_type == 'error']
    text = ''.join(o.get('text', '') for o in outputs if o.output_type == 'stream')
    assert "2 supports, 3 queries of class 'disk-dots'" in text
    assert text.count('of the pixels are disk-dots') == 3
    images = [o for o in outputs if o.output_type == 'display_data' and 'image/png' in o.data]
    assert len(images) == 1  # the panels' figure
    # the committed notebook carries no outputs (nothing stale to show)
    with open(f'{REPO}/demo/inference_demo.ipynb') as f:
        committed = json.load(f)
    assert all(not c.get('outputs') for c in committed['cells'] if c['cell_type'] == 'code')
    assert os.environ['MMFSS_CHECKPOINT'] == checkpoint
