"""The base config: every field a run reads, with its default. Other configs change a few."""
import ml_collections

import zoo


# The same 10 people in every room, none of them close to the camera: the sets below,
# measured before configs/people_study.py.
TEN_PEOPLE = dict(num_foregrounds=10, foregrounds_per_background=0, near_share=0.0)

# The synthetic set of the studies measured on 2026-11-29 (configs/quality_study.py,
# configs/recipe_study.py, and configs/cnn_96.py at commit a2cec90), before the default
# grew to 100 rooms:
# 40 rooms (28 train, 12 test) x 10 figures x 2 flips x 2 placements = 1,600 samples.
FORTY_ROOMS = dict(num_backgrounds=40, flips=2, placements=2, **TEN_PEOPLE)

# The default set of the morning of 2026-11-30 (configs/default_study.py measured on it):
# 100 rooms (70 train, 30 test) x 10 figures x 2 flips x 1 placement = 2,000 samples.
HUNDRED_ROOMS = dict(num_backgrounds=100, flips=2, placements=1, **TEN_PEOPLE)

# The default set of the afternoon and evening of 2026-11-30 (configs/context_study.py,
# configs/muon_study.py and the others measured on it): 300 rooms (210 train, 90 test) x
# the same 10 figures x 1 flip x 1 placement = 3,000 samples.
THREE_HUNDRED_ROOMS = dict(num_backgrounds=300, flips=1, placements=1, **TEN_PEOPLE)

# The default set of the night of 2026-11-30 (configs/people_study.py's `people_near`,
# configs/rooms_study.py's `default`): the 3,000 people, 10 in each of 300 rooms.
PEOPLE_IN_300_ROOMS = dict(num_backgrounds=300, flips=1, placements=1, num_foregrounds=3000,
                           foregrounds_per_background=10, near_share=0.5)


# The model of every study before configs/capacity_study.py, and of make run until then:
# dmnet_cnn at widths (16, 32, 64) (`config.update(base.SMALL_CNN)`).
SMALL_CNN = dict(model=dict(name='dmnet_cnn', widths=(16, 32, 64), blocks=1,
                            dilations=(1, 2, 4, 8, 1), global_context=True))

# The heads' weights of every study before configs/head_weight_study.py, and of the
# default until then: mask and depth loss at weight 1 each (`config.update(base.EQUAL_HEADS)`).
EQUAL_HEADS = dict(loss=dict(mask_weight=1.0, depth_weight=1.0))

# The optimizer and learning rate of every study before configs/optimizer_study.py, and
# of the default before Muon: `config.update(base.ADAM)`.
ADAM = dict(optimizer=dict(name='adam', lr=3e-3), schedule=dict(min_lr=1e-3))

# Evaluation of every study before benchmarks/hflip_average.py and benchmarks/ema.py: the
# plain forward pass of the trained weights themselves, without the mirror-image average
# or the moving average of the weights (`config.update(base.PLAIN_EVAL)`).
PLAIN_EVAL = dict(eval=dict(hflip_average=False), train=dict(ema_decay=0.0))

# An evaluation halfway through make run's 2,400 steps, as every study built on configs/cnn.py
# measured before it evaluated only at the end (2026-12-02): `config.update(base.HALFWAY_EVAL)`.
HALFWAY_EVAL = dict(eval=dict(every=1200))

# The loss of every study before the outline weight (2026-12-03): BCE + Dice on the mask,
# every pixel of BCE at weight 1, the depth head at twice the mask head's weight. The
# studies that measured equal heads apply EQUAL_HEADS after it.
LOSS_BEFORE_OUTLINE_WEIGHT = dict(loss=dict(
    mask=[dict(name='bce_with_logits'), dict(name='dice')], depth_weight=2.0))

# Muon at the learning rate of configs/optimizer_study.py and configs/cnn_96.py's
# measurement, before configs/muon_study.py doubled it.
MUON_3E3 = dict(optimizer=dict(name='muon', lr=3e-3, muon_momentum=0.95),
                schedule=dict(min_lr=1e-3))

# The augmentations of those studies and of the default until 2026-11-30, geometric ones
# included.
WITH_GEOMETRY = [
    dict(name='hflip', p=0.5),
    dict(name='random_resized_crop', scale=(0.7, 1.0), ratio=(3 / 4, 4 / 3)),
    dict(name='rotate', max_degrees=5.0),
    dict(name='color_jitter', brightness=0.2, contrast=0.2, saturation=0.2, hue=0.02,
         independent=True),
    dict(name='cutout', size=0.25, p=0.3),
]


def model(name: str, **changes) -> ml_collections.ConfigDict:
  """A model section with every field of zoo model `name`: its module's defaults, then `changes`.

  The module (zoo/) is the one source of an architecture's defaults; a config names the
  model and only what it changes, and still every field can be set on the command line
  (`--config.model.blocks=2`).
  """
  return ml_collections.ConfigDict(zoo.config_fields(dict(name=name, **changes)))


def study(name, variants, num_grid_samples=4):
  """A config's `study` section: one run per variant, in the order given.

  `variants` maps a run's name to the config sections it changes (`dict()` for none);
  `python run.py --config configs/<name>.py --workdir runs/<name>` trains every run and
  writes `runs/<name>/<name>.md` (training/study.py).
  """
  return ml_collections.ConfigDict(dict(
      name=name, num_grid_samples=num_grid_samples,
      variants=ml_collections.ConfigDict(variants, sort_keys=False)))


def get_config():
  """Returns the base config; `configs/cnn.py` and the others start from it."""
  config = ml_collections.ConfigDict()
  config.seed = 0
  # Where compiled train / eval steps are kept, so a run that resumes, evaluates or predicts
  # again on the same kind of machine loads them instead of compiling: 'auto' keeps them in
  # ~/.cache/dmnet-zoo/xla on GPUs and TPUs and compiles every time on the CPU (XLA rejects
  # cached CPU programs on recent Intel CPUs); a folder keeps them there on any backend;
  # '' compiles every time (training/compilation_cache.py).
  config.compilation_cache = 'auto'

  config.data = ml_collections.ConfigDict()
  config.data.source = 'synthetic'  # 'synthetic', or a folder, a zip, a folder of four zips, a CSV.
  config.data.data_dir = 'data'  # Where TFDS keeps built datasets (relative to the current folder).
  config.data.image_size = 64  # Models see image_size x image_size.
  # 'bg': no background of the test split is seen in training, so the test numbers say
  # how a model does in a room it never saw; 'sample' is the original's split.
  config.data.split_by = 'bg'
  config.data.test_fraction = 0.3
  config.data.on_bad_sample = 'error'  # 'error' stops before writing; 'skip' skips and lists.
  config.data.build_workers = 2  # Processes that render / encode samples while building.
  # Build with Apache Beam instead ('DirectRunner' here, or a cluster's runner), each shard
  # in a Beam worker; same records. `beam_options` are Beam's flags, e.g.
  # '--direct_num_workers=4 --direct_running_mode=multi_processing'. Needs the `beam` extra.
  config.data.beam_runner = ''
  config.data.beam_options = ''
  # A user's own data whose samples name at most half as many bg files as there are
  # samples: store each background once (the samples name theirs by digest) instead of
  # with every sample. The same samples read either way.
  config.data.backgrounds_once = True
  config.data.num_workers = 0  # grain worker processes (0: in the main process).
  config.data.prefetch = 2  # Batches prepared ahead of the train step.
  # With num_workers = 0: keep the decoded train split in memory after its first epoch
  # when it takes at most this many MiB (64 px: 32 KiB a sample). 0 turns it off.
  config.data.cache_mib = 2048
  config.data.synthetic = ml_collections.ConfigDict()
  # 3,000 rooms, one person in each, each person from a pool of 3,000 (0 pairs every
  # foreground with every background, the original's product; with more rooms, raise
  # num_foregrounds with them, or people repeat): no room and no person of the test split
  # is seen in training. Depth in a room never seen is what
  # generalizes worst, and every room is one more layout to learn it from: against 10
  # people in each of 300 rooms, depth delta1 0.866 -> 0.902 and RMSE 0.0361 -> 0.0342 on
  # the runs' own test rooms, 0.892 -> 0.912 and 0.0351 -> 0.0320 on a set of another seed,
  # mask IoU level (0.822 -> 0.823, 0.824 -> 0.828), for a build about 2.5 times as long
  # (each sample renders its own room); 6,000 rooms did no better on the other seed's set
  # (configs/rooms_study.py; BENCHMARKS.md, "Masks and depth maps").
  config.data.synthetic.num_backgrounds = 3000
  config.data.synthetic.flips = 1  # 1: plain only; 2: plain and mirrored foregrounds.
  config.data.synthetic.placements = 1  # Placements per (background, foreground, flip).
  config.data.synthetic.num_foregrounds = 3000
  config.data.synthetic.foregrounds_per_background = 1
  # Half the standing people sought close to the camera first (filling about half the
  # picture's height), as in photographs. With 3,000 people instead of the same 10
  # everywhere, and this: mask IoU on real photographs 0.696-0.723 -> 0.759-0.775, on
  # synthetic test rooms with unseen people 0.779 -> 0.822 (configs/people_study.py).
  config.data.synthetic.near_share = 0.5
  config.data.synthetic.render_size = 64  # Stored image size (pixels, square).
  config.data.synthetic.seed = 0
  config.data.synthetic.exposure = 1.0  # Nuisance levels: 0 turns each off, 1 is the default strength.
  config.data.synthetic.noise = 1.0
  config.data.synthetic.jpeg = 1.0
  config.data.synthetic.shift = 1.0
  config.data.synthetic.shadow = 1.0
  # Applied in order, train split only (datasets/augment.py). No random crop or rotation
  # (the renderer's camera never zooms or tilts): without them the default drew better
  # masks (test mask IoU 0.763 -> 0.810), depth RMSE and delta1 held and AbsRel rose
  # 0.134 -> 0.144 (configs/default_study.py, one seed; BENCHMARKS.md, "Masks and depth maps").
  config.data.augment = [
      dict(name='hflip', p=0.5),
      dict(name='color_jitter', brightness=0.2, contrast=0.2, saturation=0.2, hue=0.02,
           independent=True),
      dict(name='cutout', size=0.25, p=0.3),
  ]

  config.model = ml_collections.ConfigDict()
  config.model.name = 'dmnet_cnn'
  config.model.dtype = 'float32'  # Compute dtype; parameters stay float32.

  # A head's loss is a name, dict(name=..., **options), or a list of such dicts with
  # an optional `weight` each (their weighted sum). type_safe=False: any of these
  # forms may replace another, in a config file or on the command line.
  config.loss = ml_collections.ConfigDict(type_safe=False)
  # BCE for every pixel's class, Dice for the person's overlap as a whole. At 64 px
  # nine in ten wrongly drawn mask pixels lie within one pixel of the person's outline, so
  # BCE weighs those pixels 5 times the others (`outline_weight`; the weighted mean keeps
  # the loss's scale). With depth at 2.5 times the mask's weight instead of 2: mask IoU
  # 0.849 -> 0.853, 0.848 -> 0.854 and 0.847 -> 0.851 in three seeds on make run's recipe,
  # depth level (delta1, RMSE, AbsRel); the step adds two 3 x 3 filters over the masks
  # (BENCHMARKS.md, "The outline in the mask's loss").
  config.loss.mask = [dict(name='bce_with_logits', outline_weight=5.0), dict(name='dice')]
  # DenseDepth's recipe: L1 for the values, SSIM for the structure, the L1 of the image
  # gradients for the edges (configs/quality_study.py measures each change).
  config.loss.depth = [dict(name='l1'), dict(name='ssim'), dict(name='gradient')]
  config.loss.combine = 'weighted_sum'  # weighted_sum, sqrt_sum, uncertainty.
  config.loss.mask_weight = 1.0
  # The depth head's sum at twice the mask head's: depth delta1 +0.021 to +0.028 and RMSE
  # -0.0022 to -0.0033 in two seeds on three test sets, mask IoU -0.002 to -0.008 on them and
  # level on real photographs (within 0.003); at 4 depth gained another 0.005-0.008 and
  # masks lost another 0.004-0.008 (configs/head_weight_study.py; BENCHMARKS.md). 2.5 since
  # the outline weight above, which alone, at 2, took 0.002 of depth delta1 (one seed).
  config.loss.depth_weight = 2.5

  config.optimizer = ml_collections.ConfigDict()
  # muon, adam, adamw, sgd. Muon (orthogonalized momentum on the conv and dense kernels,
  # Adam on the rest) reached at 2,400 steps the mask IoU and delta1 Adam reached at 4,800:
  # test mask IoU 0.815 -> 0.835, depth delta1 0.851 -> 0.871, for 1.07 x the time a step
  # (configs/optimizer_study.py; BENCHMARKS.md, "Masks and depth maps").
  config.optimizer.name = 'muon'
  # Peak learning rate (muon scales its updates to about Adam's size). Muon at 6e-3
  # instead of 3e-3 drew better masks in two seeds (IoU +0.005, +0.004) at a lower test
  # loss, depth about level (delta1 +0.011, -0.010) (configs/muon_study.py). Adam at 6e-3
  # was worse than at 3e-3 (configs/optimizer_study.py): with adam, pass lr=3e-3 and
  # schedule.min_lr=1e-3.
  config.optimizer.lr = 6e-3
  config.optimizer.weight_decay = 0.0
  config.optimizer.momentum = 0.9  # sgd.
  config.optimizer.muon_momentum = 0.95  # muon, on the kernels (Muon's usual).
  config.optimizer.grad_clip_norm = 1.0  # 0 turns clipping off.

  config.schedule = ml_collections.ConfigDict()
  config.schedule.name = 'cosine'  # constant, cosine, cyclic, one_cycle.
  config.schedule.warmup_steps = 200
  config.schedule.min_lr = 2e-3  # cyclic: the low end; cosine: the final value as a fraction-free lr.
  config.schedule.half_cycle_steps = 2000  # cyclic: steps up (and again down).
  # Reduce-on-plateau on the test loss, on top of any schedule: after `patience`
  # evaluations without the test loss improving by `rtol` (relative), the learning rate
  # is multiplied by `factor` (down to `min_scale` x the schedule's). 1.0 turns it off.
  config.schedule.plateau = ml_collections.ConfigDict()
  config.schedule.plateau.factor = 1.0
  config.schedule.plateau.patience = 3
  config.schedule.plateau.cooldown = 0
  config.schedule.plateau.rtol = 1e-4
  config.schedule.plateau.min_scale = 0.01

  config.train = ml_collections.ConfigDict()
  # Small batches, many updates: for the same samples seen, 2,400 steps of 8 drew better
  # masks than 600 of 32, and depth as good or better (configs/recipe_study.py; one seed).
  # On a GPU a larger batch costs little more; a larger batch wants a larger lr (untested).
  config.train.steps = 2400
  config.train.batch_size = 8
  config.train.checkpoint_every = 800
  config.train.keep_checkpoints = 3
  config.train.log_every = 80
  # Progressive resizing: smaller sizes to train at first, in order, each for a
  # fraction of train.steps, e.g. [dict(image_size=64, fraction=0.5)]; the steps left,
  # and every evaluation, run at data.image_size. Resumes like any run.
  config.train.stages = []
  config.train.init_from = ''  # A workdir or checkpoint to start from (fine-tuning).
  # Evaluate, predict and export with an exponential moving average of the weights
  # (bias-corrected, about the last 1 / (1 - decay) = 200 steps); 0 turns it off. On
  # make run's recipe it lowered the test loss and raised mask IoU and delta1 in three seeds
  # (benchmarks/ema.py, BENCHMARKS.md). A run keeps the value it started with.
  config.train.ema_decay = 0.995
  # Once, after the first logging step: log a forward / loss / backward / optimizer
  # timing split as profile/* and trace the next profile_steps steps into tb/ for
  # TensorBoard's profile plugin. Off by default: it compiles four extra functions.
  config.train.profile = False
  config.train.profile_steps = 5

  config.eval = ml_collections.ConfigDict()
  config.eval.every = 1200
  config.eval.batch_size = 64
  # Predict the mean of the pair's and its mirror image's predictions (evaluation,
  # --mode predict, the demo and exports): on make run's test rooms mask IoU 0.840 ->
  # 0.848 and depth delta1 0.882 -> 0.887 (last-step weights, before train.ema_decay)
  # for twice the inference work
  # (benchmarks/hflip_average.py; BENCHMARKS.md, "Averaging with the mirror image").
  config.eval.hflip_average = True
  config.eval.mask_ssim_threshold = 0.90
  config.eval.depth_ssim_threshold = 0.50
  config.eval.num_grid_samples = 8
  # 0: evaluate on the whole test split; N: on N of its samples spread evenly over it, the
  # same ones every time (for sets too large to evaluate whole, configs/original.py).
  config.eval.max_samples = 0
  return config
