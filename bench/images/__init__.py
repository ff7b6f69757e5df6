"""The image pipeline, from files to batches on the device: decoding (jpeg, imagefiles), augmentation policies and
their batched forms (augment, policies), the views an algorithm asks for (views, imageviews, clipviews) and the
loaders that put it together (pipelines). It knows nothing of datasets' formats or of methods."""
