"""Named entries of one kind, looked up by the name a config gives.

Every table a config picks from by name is a `Registry`: models (`model.name`), losses
(`loss.mask`, `loss.depth`), loss combiners (`loss.combine`), augmentations
(`data.augment[i].name`), optimizers (`optimizer.name`), schedules (`schedule.name`) and
the command line's modes (`--mode`). One way to add an entry, list the names and look one
up, and one message for a name that is not there:

    OPTIMIZERS = Registry('optimizer')

    @OPTIMIZERS.register
    def adam(...): ...

    OPTIMIZERS.get('adagrad', field='optimizer.name')
    # ValueError: optimizer.name: unknown optimizer 'adagrad'; registered: adam, ...
"""
from typing import Generic, TypeVar

T = TypeVar('T')


class Registry(Generic[T]):
  """Entries of one kind (models, losses, ...) by name.

  Attributes:
    kind: What an entry is, as error messages name it ('model', 'loss', ...).
  """

  def __init__(self, kind: str):
    self.kind = kind
    self._entries: dict[str, T] = {}

  def add(self, name: str, entry: T) -> T:
    """Adds `entry` as `name` and returns it.

    Raises:
      TypeError: If `name` is not a non-empty string.
      ValueError: If `name` is taken (an entry is never replaced silently).
    """
    if not isinstance(name, str) or not name:
      raise TypeError(f'a {self.kind} name must be a non-empty string, got {name!r}')
    if name in self._entries:
      raise ValueError(f'{self.kind} {name!r} is already registered')
    self._entries[name] = entry
    return entry

  def register(self, entry: T) -> T:
    """Decorator: adds a function or class under its own `__name__` and returns it."""
    return self.add(entry.__name__, entry)

  def remove(self, name: str) -> T:
    """Removes entry `name` (one a plugin or a test added) and returns it; KeyError if absent."""
    return self._entries.pop(name)

  def names(self) -> list[str]:
    """The registered names, sorted."""
    return sorted(self._entries)

  def __contains__(self, name) -> bool:
    return isinstance(name, str) and name in self._entries

  def __len__(self) -> int:
    return len(self._entries)

  def get(self, name, field: str = '') -> T:
    """The entry registered as `name`.

    Args:
      name: The name a config gives.
      field: The config field that gave it (e.g. 'optimizer.name'), for the message.

    Raises:
      ValueError: Naming the field, the unknown name and the registered names.
    """
    if name not in self:
      prefix = f'{field}: ' if field else ''
      raise ValueError(f'{prefix}unknown {self.kind} {name!r}; '
                       f'registered: {", ".join(self.names())}')
    return self._entries[name]

  def __repr__(self) -> str:
    return f'Registry({self.kind!r}: {", ".join(self.names())})'
