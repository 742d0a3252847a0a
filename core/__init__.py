"""What every layer shares and none owns: the registry the configs' names are looked up in.

`core` imports no other package of this repository, so `zoo`, `losses`, `datasets` and
`training` can all use it without importing one another.
"""
from core import registry
from core.registry import Registry

__all__ = ['Registry', 'registry']
