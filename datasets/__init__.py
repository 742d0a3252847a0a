"""Datasets: the synthetic classroom and users' folders, zips or CSV, as one TFDS builder.

`datasets.load(config.data)` builds the dataset the config names (or reuses it) and
returns its splits and statistics; `datasets.pipeline` turns a split into batches.
"""
import dataclasses
from typing import Any

from datasets import builder as builder_lib
from datasets import shared_backgrounds
from datasets import sources as sources_lib
from datasets import synthetic
from datasets import user_data


@dataclasses.dataclass
class LoadedDataset:
  """A built dataset: its splits as random-access sources, its statistics, its origin."""
  builder: Any
  train: Any
  test: Any
  stats: dict[str, Any]
  reused: bool

  source: str

  @property
  def name(self) -> str:
    """The dataset's TFDS config name: the source kind and a hash of what made it."""
    return self.builder.builder_config.name

  @property
  def summary(self) -> dict[str, Any]:
    """The JSON object that `--mode build` prints as its last line."""
    return dict(train=len(self.train), test=len(self.test), source=self.source,
                name=self.name, path=str(self.builder.data_path),
                reused=self.reused, skipped=len(self.stats.get('skipped', [])),
                backgrounds_stored_once=self.stats.get(shared_backgrounds.METADATA_KEY, 0))


def make_source(data_config) -> sources_lib.Source:
  """The source that `data.source` names: 'synthetic' or a path of the user's data."""
  if data_config.source == 'synthetic':
    return sources_lib.SyntheticSource(synthetic_spec(data_config))
  return user_data.from_path(data_config.source)


def synthetic_spec(data_config) -> synthetic.SyntheticSpec:
  """`data.synthetic.*` as a renderer spec."""
  fields = {f.name for f in dataclasses.fields(synthetic.SyntheticSpec)}
  spec = synthetic.SyntheticSpec(**{k: v for k, v in data_config.synthetic.items()
                                    if k in fields})
  synthetic.validate_spec(spec)
  return spec


def build_options(data_config) -> builder_lib.BuildOptions:
  """`data.*` split and bad-sample settings as builder options."""
  return builder_lib.BuildOptions(
      split_by=data_config.split_by, test_fraction=data_config.test_fraction,
      on_bad_sample=data_config.on_bad_sample,
      workers=data_config.build_workers,
      # Absent from the config.json of runs older than the option.
      beam_runner=data_config.get('beam_runner', ''),
      beam_options=data_config.get('beam_options', ''),
      backgrounds_once=data_config.get('backgrounds_once', True))


def load(data_config) -> LoadedDataset:
  """Builds (or reuses) the dataset `data_config` names and opens both splits."""
  builder, reused = builder_lib.build(make_source(data_config),
                                      build_options(data_config),
                                      data_config.data_dir)
  metadata = dict(builder.info.metadata)
  train, test = shared_backgrounds.open_splits(builder)
  return LoadedDataset(builder=builder, train=train, test=test, stats=metadata,
                       reused=reused, source=data_config.source)
