"""The grain pipeline: resumable iterator state (in and out of worker processes),
per-epoch reshuffling, and an eval pass that covers the test split exactly once."""
import contextlib

import numpy as np
import pytest

import datasets
from datasets import pipeline
from tests.conftest import tiny_config


@pytest.fixture(scope='module')
def data(tiny_data_dir):
  return datasets.load(tiny_config(tiny_data_dir).data)


def train_iterator(data, num_workers, batch_size=4, cache_mib=0):
  return iter(pipeline.train_dataset(data.train, image_size=32, global_batch_size=batch_size,
                                     seed=0, num_workers=num_workers, cache_mib=cache_mib))


def take(iterator, count):
  return [next(iterator) for _ in range(count)]


def assert_batches_equal(expected, actual):
  assert len(expected) == len(actual)
  for want, got in zip(expected, actual):
    assert sorted(want) == sorted(got)
    for key in want:
      np.testing.assert_array_equal(want[key], got[key], err_msg=key)


@pytest.mark.parametrize('num_workers', [0, 2])
def test_restored_iterator_resumes_with_the_same_batches(data, num_workers):
  with contextlib.closing(train_iterator(data, num_workers)) as fresh:
    first = take(fresh, 3)
    state = fresh.get_state()
    rest = take(fresh, 3)
  with contextlib.closing(train_iterator(data, num_workers)) as restored:
    restored.set_state(state)
    assert_batches_equal(rest, take(restored, 3))
  with contextlib.closing(train_iterator(data, 0)) as reference:
    # Worker processes change neither the batches nor their order.
    assert_batches_equal(first + rest, take(reference, 6))


def test_each_epoch_is_a_new_permutation(data):
  size = len(data.train)
  index_of = {data.train[i]['fg_bg'].tobytes(): i for i in range(size)}
  assert len(index_of) == size
  batch_size = 2 if size % 2 == 0 else 1
  with contextlib.closing(train_iterator(data, 0, batch_size=batch_size)) as iterator:
    order = [index_of[image.tobytes()]
             for batch in take(iterator, 3 * size // batch_size) for image in batch['fg_bg']]
  epochs = [order[i * size:(i + 1) * size] for i in range(3)]
  for epoch in epochs:
    assert sorted(epoch) == list(range(size))
  assert epochs[0] != epochs[1] != epochs[2]


def test_eval_batches_cover_the_split_once_in_order(data):
  batches = list(pipeline.eval_batches(data.test, image_size=32, batch_size=4))
  sizes = [len(batch['fg_bg']) for batch in batches]
  assert sizes == [4] * (len(data.test) // 4) + ([len(data.test) % 4] if len(data.test) % 4 else [])
  for key in pipeline.IMAGE_KEYS:
    np.testing.assert_array_equal(np.concatenate([batch[key] for batch in batches]),
                                  np.stack([data.test[i][key] for i in range(len(data.test))]))
  limited = list(pipeline.eval_batches(data.test, image_size=32, batch_size=4, limit=5))
  assert sum(len(batch['bg']) for batch in limited) == 5


def test_the_decoded_cache_gives_the_same_batches_over_several_epochs(data):
  batches = 3 * len(data.train) // 4 + 1  # Three epochs and a bit, batch 4.
  with contextlib.closing(train_iterator(data, 0)) as plain, \
       contextlib.closing(train_iterator(data, 0, cache_mib=100)) as cached:
    assert_batches_equal(take(plain, batches), take(cached, batches))


def test_a_cached_iterator_resumes_from_its_saved_state(data):
  with contextlib.closing(train_iterator(data, 0, cache_mib=100)) as fresh:
    take(fresh, 7)
    state = fresh.get_state()
    rest = take(fresh, 3)
  with contextlib.closing(train_iterator(data, 0, cache_mib=100)) as resumed:
    resumed.set_state(state)
    assert_batches_equal(rest, take(resumed, 3))


def test_the_cache_decodes_each_sample_once():
  reads = []

  class CountingSource:
    def __len__(self):
      return 3

    def __getitem__(self, index):
      reads.append(index)
      return {key: np.full((8, 8, 1 if key in ('mask', 'depth') else 3), index, np.uint8)
              for key in pipeline.IMAGE_KEYS}

  cache = pipeline.DecodedCache(CountingSource(), pipeline.ResizeAndDrop(4))
  first = [cache[i] for i in (0, 1, 2, 0, 1, 2)]
  assert sorted(reads) == [0, 1, 2]
  assert first[0]['bg'].shape == (4, 4, 3) and first[3] is first[0]


def test_progressive_resizing_switches_size_at_the_same_position_of_the_stream(data):
  ends = pipeline.stage_ends(32, 5, [dict(image_size=16, fraction=0.4)])
  assert ends == [(16, 2), (32, 5)]
  assert [pipeline.size_at(ends, step) for step in range(6)] == [16, 16, 32, 32, 32, 32]
  with contextlib.closing(train_iterator(data, 0)) as plain:
    expected = take(plain, 4)
  resizing = pipeline.ResizingIterator(
      lambda size: iter(pipeline.train_dataset(data.train, image_size=size,
                                               global_batch_size=4, seed=0)), ends)
  with contextlib.closing(resizing):
    small = [next(resizing.at_step(step)) for step in range(2)]
    assert resizing.image_size == 16 and small[0]['fg_bg'].shape == (4, 16, 16, 3)
    state = resizing.get_state()
    large = [next(resizing.at_step(step)) for step in range(2, 4)]
    assert resizing.image_size == 32
  assert_batches_equal(expected[2:], large)  # The same samples a plain run takes there.
  for got, want in zip(small, expected[:2]):  # ... and before it, the same ones smaller.
    np.testing.assert_array_equal(got['mask'], np.stack(
        [pipeline.resize(image, 16) for image in want['mask']]))
  resumed = pipeline.ResizingIterator(
      lambda size: iter(pipeline.train_dataset(data.train, image_size=size,
                                               global_batch_size=4, seed=0)), ends)
  with contextlib.closing(resumed):
    resumed.set_state(state)
    assert_batches_equal(large, [next(resumed.at_step(step)) for step in range(2, 4)])


def test_opencv_and_pil_decode_the_stored_images_to_the_same_pixels(data):
  """TFDS decodes with OpenCV where it is installed (a dependency; Colab has it) and with
  PIL elsewhere: either way a sample reads the same, PNG as stored by the builder and
  JPEG as a user's files are stored."""
  import io  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  from tensorflow_datasets.core.features import image_feature  # pylint: disable=g-import-not-at-top
  assert image_feature.cv2 is not None, 'OpenCV is a dependency: TFDS should decode with it'
  features = data.train.dataset_info.features
  for index in range(3):
    record = data.train.data_source[index]
    with_opencv = features.deserialize_example_np(record)
    hidden = image_feature.cv2
    image_feature.cv2 = None
    try:
      with_pil = features.deserialize_example_np(record)
    finally:
      image_feature.cv2 = hidden
    for key in pipeline.IMAGE_KEYS:
      np.testing.assert_array_equal(with_opencv[key], with_pil[key], err_msg=key)
  rng = np.random.default_rng(0)
  for channels, feature in ((3, features['bg']), (1, features['mask'])):
    pixels = rng.integers(0, 256, (24, 40, channels), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if channels == 1 else pixels).save(buffer, 'JPEG', quality=80)
    jpeg = buffer.getvalue()
    np.testing.assert_array_equal(feature.decode_example_np_with_opencv(jpeg, channels),
                                  feature.decode_example_np_with_pil(jpeg, channels))


def test_the_input_benchmark_can_hide_opencv_from_tfds_in_a_fresh_process():
  """benchmarks/input_pipeline.py times PIL decoding by hiding OpenCV in its child process
  (and the workers, which import the module again) through an environment variable."""
  import os  # pylint: disable=g-import-not-at-top
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  probe = ('import sys; sys.path.insert(0, "benchmarks"); import input_pipeline; '
           'from tensorflow_datasets.core.features import image_feature; '
           'print(image_feature.cv2 is None)')
  for hide, expected in (('1', 'True'), ('0', 'False')):
    env = dict(os.environ, INPUT_PIPELINE_BENCH_HIDE_OPENCV=hide)
    done = subprocess.run([sys.executable, '-c', probe], cwd=root, env=env,
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == expected, (hide, done.stderr[-2000:])
