"""dmnet_core.Registry: the one table every config name is looked up in."""
import pytest

from dmnet_core import Registry


def _shapes():
  shapes = Registry('shape')

  @shapes.register
  def square(side):
    return side * side

  shapes.add('disc', lambda radius: 3.14159 * radius * radius)
  return shapes


def test_entries_are_found_by_the_name_they_were_added_under():
  shapes = _shapes()
  assert shapes.get('square')(3) == 9
  assert shapes.get('disc')(1) == pytest.approx(3.14159)
  assert shapes.names() == ['disc', 'square'] and len(shapes) == 2
  assert 'square' in shapes and 'circle' not in shapes and 3 not in shapes


def test_an_unknown_name_is_refused_naming_the_field_and_the_registered_names():
  with pytest.raises(ValueError) as error:
    _shapes().get('circle', 'model.shape')
  assert str(error.value) == "model.shape: unknown shape 'circle'; registered: disc, square"
  with pytest.raises(ValueError, match=r"^unknown shape \['square'\]; registered"):
    _shapes().get(['square'])  # Not a name at all, e.g. a list from a config.


def test_a_name_is_never_replaced_silently():
  shapes = _shapes()
  with pytest.raises(ValueError, match="shape 'square' is already registered"):
    shapes.add('square', lambda side: side)
  assert shapes.get('square')(2) == 4
  with pytest.raises(TypeError, match='non-empty string'):
    shapes.add('', lambda side: side)


def test_remove_takes_an_entry_out_and_returns_it():
  shapes = _shapes()
  square = shapes.remove('square')
  assert square(2) == 4 and shapes.names() == ['disc']
  with pytest.raises(KeyError):
    shapes.remove('square')
