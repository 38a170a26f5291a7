import os.path as osp

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
extras_require = {
    'tests': ['pytest>=8', 'pytest-timeout', 'hypothesis>=6', 'POT==0.9.7.post1'],
}

setup(
    name='mmfss',
    version=get_version(),
    description='Few-shot semantic segmentation for MMSegmentation 1.x',
    long_description=open('README.md').read() if osp.isfile('README.md') else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests')),
    include_package_data=True,
    package_data={'mmfss.datasets': ['lists/pascal/*.txt', 'lists/fss1000/*.txt']},
    python_requires='>=3.9',
    install_requires=install_requires,
    extras_require=extras_require,
    license='Apache License 2.0',
    zip_safe=False,
)
