"""Checks a config before anything runs: one clear line per problem."""
import zoo


def validate_config(config):
  """Raises ValueError naming the first invalid field and its allowed values."""
  if config.optimizer.lr <= 0:
    raise ValueError(f'optimizer.lr: {config.optimizer.lr} must be > 0')
  if config.train.batch_size <= 0:
    raise ValueError(f'train.batch_size: {config.train.batch_size} must be > 0')
  if config.model.name not in zoo.names():
    raise ValueError(f'model.name: unknown model {config.model.name!r}; registered: '
                     f'{", ".join(zoo.names())}')
