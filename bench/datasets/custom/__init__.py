"""Your own long-tailed data in one YAML file (docs/own-data.md): spec (the file's keys), sources (its images and
labels), scan (every image read once, cached), catalog (classes, splits, fingerprint, bad data), declare (its
DatasetInfo and recipe), load (a run's tensors or image lists), hub (Hugging Face datasets), added (names recorded by
`bench data add`), summary (`bench data describe`)."""
