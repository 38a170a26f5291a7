import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup


def get_version() -> str:
    scope: dict = {}
    with open(osp.join(osp.dirname(__file__), 'mmfss', 'version.py')) as f:
        exec(compile(f.read(), 'mmfss/version.py', 'exec'), scope)
    return scope['__version__']


# Ranges that admit the pinned, verified stack (see tools/install_env.sh). mmcv must be
# built from source with its ops against the installed torch: `make install` does that.
install_requires = [
    'torch>=2.6,<2.15',
    'torchvision>=0.21,<0.30',
    'mmcv>=2.0.0rc4,<2.2.0',
    'mmengine>=0.10.0,<1.0.0',
    'mmsegmentation>=1.2.0,<1.3.0',
    'open_clip_torch>=3.0,<4.0',
    'numpy>=1.24',
    'ftfy',
    'regex',
    'prettytable',
    'Pillow',
    'scipy',  # tools/dataset_converters/voc_aug.py (SBD .mat files)
    'pycocotools>=2.0',  # tools/dataset_converters/coco20i.py
]


def get_extensions():
    """The C++ passes of mmfss.ot's kernel-domain Sinkhorn (CPU; optional: without them
    the same passes run as torch ops). Built against the installed torch, so install
    without build isolation (``tools/install_env.sh`` does); MMFSS_WITH_OPS=0 skips them."""
    if os.getenv('MMFSS_WITH_OPS', '1') == '0':
        return [], {}
    try:
        from torch.utils.cpp_extension import BuildExtension, CppExtension
    except ImportError:  # pip's isolated build: torch is not visible, build without them
        print('mmfss: torch is not importable while building, so the optional C++ passes of '
              'mmfss.ot are not compiled (they run as torch ops); install with '
              '`pip install -e . --no-build-isolation` to compile them')
        return [], {}
    # -fopenmp: at::parallel_for is OpenMP in torch's CPU builds (torch's own libgomp is
    # the one loaded); -Wno-psabi: the 64-byte vector helpers are always inlined into their
    # multi-versioned callers, so GCC's note on their baseline-ISA ABI never applies
    ext = CppExtension('mmfss.ot._kernel_passes', ['mmfss/ot/csrc/kernel_passes.cpp'],
                       extra_compile_args=['-O3', '-fopenmp', '-Wno-psabi'],
                       extra_link_args=['-fopenmp'])
    return [ext], {'build_ext': BuildExtension}


def add_mim_extension() -> None:
    """Put ``configs``, ``tools``, ``demo`` and ``model-index.yml`` inside the package as
    ``mmfss/.mim`` when a wheel or an sdist is built (``pip install .``), the place OpenMMLab's
    ``mim`` reads them from: ``mim search mmfss`` lists every method's configs with the papers'
    numbers, ``mim train mmfss CONFIG`` runs ``tools/train.py``. As in mmseg's ``setup.py``.
    An editable install (``pip install -e .``, ``make install``) keeps them where they are:
    ``mim`` looks for them next to the installed distribution's metadata, which an editable
    install does not have, so from a checkout the files are used in place.
    """
    if not any(cmd in sys.argv for cmd in ('bdist_wheel', 'sdist', 'build', 'build_py')):
        return
    root = osp.dirname(osp.abspath(__file__))
    mim_path = osp.join(root, 'mmfss', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in ('configs', 'tools', 'demo', 'model-index.yml'):
        src, dst = osp.join(root, name), osp.join(mim_path, name)
        if not osp.exists(src):
            continue
        if osp.isdir(dst) and not osp.islink(dst):
            shutil.rmtree(dst)
        elif osp.lexists(dst):
            os.remove(dst)
        if osp.isdir(src):
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            shutil.copyfile(src, dst)


add_mim_extension()
ext_modules, cmdclass = get_extensions()
extras_require = {
    'tests': ['pytest>=8', 'pytest-timeout', 'hypothesis>=6', 'POT==0.9.7.post1', 'nbformat>=5.9',
              'nbclient>=0.10', 'ipykernel>=6.29', 'selenium==4.51.0'],
    # the web page (tools/webui.py); tested with these versions
    'web': ['gradio==6.31.0'],
}

setup(
    name='mmfss',
    version=get_version(),
    description='Few-shot semantic segmentation for MMSegmentation 1.x',
    long_description=open('README.md').read() if osp.isfile('README.md') else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests')),
    include_package_data=True,
    package_data={'mmfss.datasets': ['lists/pascal/*.txt', 'lists/fss1000/*.txt',
                                    'lists/hsnet/pascal/*/*.txt'],
                  'mmfss.evaluation': ['paper_results.json'],
                  # configs, tools and the model index for OpenMMLab's mim (add_mim_extension)
                  'mmfss': ['.mim/model-index.yml', '.mim/configs/**/*', '.mim/tools/**/*',
                            '.mim/demo/**/*']},
    python_requires='>=3.9',
    install_requires=install_requires,
    extras_require=extras_require,
    license='Apache License 2.0',
    ext_modules=ext_modules,
    cmdclass=cmdclass,
    zip_safe=False,
)
