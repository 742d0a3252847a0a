"""The repository's own packages win over same-named packages from PyPI."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_datasets_is_ours_not_hugging_faces():
  import datasets  # pylint: disable=g-import-not-at-top
  assert os.path.dirname(os.path.abspath(datasets.__file__)) == os.path.join(ROOT, 'datasets'), (
      f'`import datasets` found {datasets.__file__}, not this repository\'s datasets/: '
      'run from the repository root (another package named datasets is shadowing ours)')
  assert hasattr(datasets, 'load') and hasattr(datasets, 'make_source')


def test_every_top_level_package_imports_from_the_repo():
  import losses, training, zoo  # pylint: disable=g-import-not-at-top,multiple-imports
  for package in (losses, training, zoo):
    assert os.path.abspath(package.__file__).startswith(ROOT)
