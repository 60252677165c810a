"""jaxgen: pure-functional JAX generative models (score SDEs, rectified flow, NICE, PixelCNN)."""

__version__ = '0.1.0'
