"""What every layer shares and none owns: the registry the configs' names are looked up in.

`dmnet_core` imports no other package of this repository, so `zoo`, `losses`, `datasets` and
`training` can all use it without importing one another. It is installed beside `zoo`, hence
the project's prefix: a plain `core` could be shadowed by, or shadow, another package.
"""
from dmnet_core import registry
from dmnet_core.registry import Registry

__all__ = ['Registry', 'registry']
