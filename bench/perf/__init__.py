"""`bench perf`: throughput measurements of training steps (training), image decoding (decoding) and augmentation
policies (augmenting) against their reference pipelines."""
