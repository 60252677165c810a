"""jaxgen.runtime.viz: the PNG encoder writes the exact pixels (checked with Pillow), and pictures are
still written without matplotlib (a bare accelerator image)."""

import sys

import numpy as np
import pytest
from PIL import Image

from jaxgen.runtime import viz
from jaxgen.data import DataSpec


@pytest.mark.parametrize('shape', [(5, 7), (4, 6, 3)])
def test_write_png_round_trips_through_pillow(tmp_path, shape):
  img = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
  viz.write_png(str(tmp_path / 'a.png'), img, scale=3)
  back = np.asarray(Image.open(tmp_path / 'a.png'))
  np.testing.assert_array_equal(back, np.repeat(np.repeat(img, 3, 0), 3, 1))


def test_write_png_refuses_other_dtypes(tmp_path):
  with pytest.raises(ValueError, match='uint8'):
    viz.write_png(str(tmp_path / 'a.png'), np.zeros((2, 2), np.float32))


def test_samples_are_pictures_without_matplotlib(tmp_path, monkeypatch):
  monkeypatch.setitem(sys.modules, 'matplotlib', None)  # `import matplotlib` fails
  spec = DataSpec('toy2d:test', (2,), -4.0, 4.0, None, None, 'none')
  pts = np.random.default_rng(1).normal(size=(500, 2))
  viz.save_samples(str(tmp_path / 's.png'), pts, spec, reference=pts)
  hist = np.asarray(Image.open(tmp_path / 's.png'))
  assert hist.ndim == 2 and hist.min() < 128  # the dense centre is drawn dark
  img_spec = DataSpec('synthetic', (4, 4, 1), 0.0, 1.0, 256, None, 'unit')
  viz.save_samples(str(tmp_path / 'g.png'), np.full((4, 4, 4, 1), 0.5), img_spec)
  grid = np.asarray(Image.open(tmp_path / 'g.png'))
  grey = viz.to_uint8(np.full((1,), 0.5), img_spec)[0]
  assert (grid == grey).mean() > 0.5  # the four 4x4 images, upscaled; the rest is padding
