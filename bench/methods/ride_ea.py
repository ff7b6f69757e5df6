from bench.methods.spec import Method

# frank-xwang/RIDE-LongTailRecognition configs/*_ride_ea.json (the same recipe for every dataset): 5 epochs, SGD
# lr 0.01 Nesterov, weight decay 5e-4, batch 512, cosine to 0, class-balanced sampling; top_choices_num 30 (CIFAR,
# ResNet-10), 50 (ResNet-50, ResNeXt-50); pos_weight 100.
METHOD = Method(
    "ride_ea", "RIDE's expert-assignment router (stage 2) on a finished ride run: experts frozen, routers decide per "
    "image whether the next expert runs; reports the share of images using 1, 2, 3 experts", "",
    parts=dict(loss="ldam", head="normed", sampler="class_uniform", algorithm="ride_router"), parent="ride",
    stage=dict(train="router", epochs=5, lr=0.01, weight_decay=5e-4, batch_size=512),
    recipes={"imagenet_lt_resnext50": {"method": dict(ride_router_top_k=50)},
             # the margin of its parent's loss (ride's iNaturalist recipe: RIDELoss's default 0.5), which the router
             # network's experts were trained with
             "inat2018_resnet50": {"method": dict(ride_router_top_k=50, max_m=0.5)}},
    recipe_source="frank-xwang/RIDE-LongTailRecognition configs/*_ride_ea.json")
