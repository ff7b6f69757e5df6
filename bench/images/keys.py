"""Which config keys the image pipeline reads, and where (torch-free: the plan's unused-key rules, bench/plan/usage.py,
and the stage computations' declarations read them)."""

# read only for datasets of image files (decoded, cropped and resized by the image-list pipeline)
IMAGE_LIST_ONLY = ("dataset.image_root", "dataset.split_dir", "dataset.path_rewrite", "augment.image_size",
                   "augment.resize", "augment.color_jitter", "augment.train_crop", "augment.normalize", "loader.decode",
                   "loader.reduced_decode")
# read only for datasets held in memory (padding crop, rotation)
IN_MEMORY_ONLY = ("augment.crop_padding", "augment.rotation")
# read only by the built-in image-list datasets (a dataset YAML file names its own images and splits)
LIST_FILES = ("dataset.image_root", "dataset.split_dir", "dataset.path_rewrite", "dataset.eval_split")
# read only where bench draws a long-tailed subset (dataset.profile exp or step)
LONG_TAIL_DRAW = ("dataset.data_seed",)
# the training view's augmentation
TRAIN_AUGMENT = ("augment.crop_padding", "augment.flip", "augment.rotation", "augment.policy",
                 "augment.randaugment_ops", "augment.randaugment_magnitude", "augment.cutout", "augment.color_jitter",
                 "augment.train_crop")
# the augment.policy values that read augment.randaugment_ops and augment.randaugment_magnitude
RANDAUGMENT = ("randaugment", "timm_randaugment", "timm_randaugment_inc")
