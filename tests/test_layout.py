"""The repository's own packages win over same-named ones from PyPI, and import in layers."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_datasets_is_ours_not_hugging_faces():
  import datasets  # pylint: disable=g-import-not-at-top
  assert os.path.dirname(os.path.abspath(datasets.__file__)) == os.path.join(ROOT, 'datasets'), (
      f'`import datasets` found {datasets.__file__}, not this repository\'s datasets/: '
      'run from the repository root (another package named datasets is shadowing ours)')
  assert hasattr(datasets, 'load') and hasattr(datasets, 'make_source')


def test_every_top_level_package_imports_from_the_repo():
  import dmnet_core, losses, training, zoo  # pylint: disable=g-import-not-at-top,multiple-imports
  for package in (dmnet_core, losses, training, zoo):
    assert os.path.abspath(package.__file__).startswith(ROOT)


BASE = 'dmnet_core'  # Below everything: imports no other package of the repository.
LAYERS = ('zoo', 'losses', 'datasets')  # Above it: none imports another, nor training.


def _repo_imports():
  """Module name -> the repository modules it imports (at the top or inside functions),
  subpackages (datasets/synthetic/) included."""
  import ast  # pylint: disable=g-import-not-at-top
  modules = {}
  for package in (BASE, *LAYERS, 'training'):
    for folder, _, files in sorted(os.walk(os.path.join(ROOT, package))):
      dotted = os.path.relpath(folder, ROOT).replace(os.sep, '.')
      for name in sorted(files):
        if name.endswith('.py'):
          module = dotted if name == '__init__.py' else f'{dotted}.{name[:-3]}'
          with open(os.path.join(folder, name)) as f:
            modules[module] = ast.parse(f.read())
  imports = {}
  for module, tree in modules.items():
    found = set()
    for node in ast.walk(tree):
      if isinstance(node, ast.Import):
        found.update(alias.name for alias in node.names)
      elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
        found.update(f'{node.module}.{alias.name}' if f'{node.module}.{alias.name}' in modules
                     else node.module for alias in node.names)
    imports[module] = {name for name in found if name in modules and name != module}
  return imports


def test_the_lowest_packages_import_neither_each_other_nor_training():
  for module, imported in _repo_imports().items():
    package = module.split('.')[0]
    if package in LAYERS:
      others = {name for name in imported if name.split('.')[0] not in (package, BASE)}
      assert not others, f'{module} imports {sorted(others)}'


def test_dmnet_core_imports_nothing_of_the_repository_but_itself():
  for module, imported in _repo_imports().items():
    if module.split('.')[0] == BASE:
      others = {name for name in imported if name.split('.')[0] != BASE}
      assert not others, f'{module} imports {sorted(others)}'


def test_every_table_a_config_names_from_is_one_kind_of_registry():
  import dmnet_core, modes, zoo  # pylint: disable=g-import-not-at-top,multiple-imports
  from datasets import augment  # pylint: disable=g-import-not-at-top
  from losses import combine, registry  # pylint: disable=g-import-not-at-top
  from training import optim  # pylint: disable=g-import-not-at-top
  tables = {'model': zoo.registry.MODELS, 'loss': registry.LOSSES,
            'combiner': combine.COMBINERS, 'augmentation': augment.AUGMENTATIONS,
            'optimizer': optim.OPTIMIZERS, 'schedule': optim.SCHEDULES, 'mode': modes.MODES}
  for kind, table in tables.items():
    assert isinstance(table, dmnet_core.Registry) and table.kind == kind and len(table) >= 2, kind


def test_no_two_modules_import_each_other():
  imports = _repo_imports()
  circles = sorted({tuple(sorted((a, b))) for a, targets in imports.items() for b in targets
                    if a in imports.get(b, ()) and a.split('.')[0] != a and b.split('.')[0] != b})
  assert not circles, f'modules that import each other: {circles}'
