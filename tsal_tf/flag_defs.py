"""Command-line flags of the training job (absl; use --flagfile=configs/<name>.flags, --helpfull lists them)."""

from absl import flags

from tsal_tf.data.augment import CROP_MARGIN
from tsal_tf.data.build import DATA_KINDS
from tsal_tf.hardware import PRECISIONS
from tsal_tf.metrics import NORMALIZERS
from tsal_tf.optimization import LR_SCHEDULES

# Data.
flags.DEFINE_enum("data", "synthetic", DATA_KINDS,
                  "Training data: built-in synthetic face videos; labeled stills (a 300W .pts folder) turned "
                  "into clips; 300VW video folders; or an SBR list file (image annotation|None x1 y1 x2 y2).")
flags.DEFINE_list("train_dir", None, "300W .pts folders, comma-separated (300w_clips), or a 300VW root (300vw).")
flags.DEFINE_string("train_list", None, "SBR list file (data=list).")
flags.DEFINE_list("val_dir", None, "300W-style .pts folders for validation, comma-separated (NME over all of "
                  "them, each folder also reported); default: synthetic faces.")
flags.DEFINE_integer("train_count", 2000, "Number of synthetic training clips (data=synthetic).")
flags.DEFINE_integer("val_count", 64, "Validation faces (synthetic) or at most this many from --val_dir (0 = all).")
flags.DEFINE_integer("val_clip_count", 32, "Validation clips for the tracking NME.")
flags.DEFINE_integer("label_stride", 10, "One labeled frame in this many (300VW / list data).")
flags.DEFINE_integer("frame_step", 1, "Spacing of the clip's frames in real videos.")
flags.DEFINE_float("label_fraction", 1.0, "Keep the frame-0 labels of this seeded fraction of the training clips; "
                   "the others train through the unsupervised and pseudo-label terms, tracked from the detection of "
                   "the teacher (or the single model); with single frames they are left out. The labeled ones are "
                   "listed in <run_dir>/labeled.txt.",
                   lower_bound=0.0, upper_bound=1.0)
flags.DEFINE_list("unlabeled_list", None, "SBR list files of unlabeled videos (`prepare` output), comma-separated: "
                  "clips from every frame with a face box join the training clips, all unlabeled.")
flags.DEFINE_float("labeled_share", 0.0, "With unlabeled training clips (--label_fraction, --unlabeled_list): "
                   "repeat each labeled clip so that labeled clips make about this share of every batch (0 = each "
                   "clip once; 300w_clips or synthetic data). With --steps_per_epoch=0 an epoch counts the copies.",
                   lower_bound=0.0, upper_bound=0.95)
flags.DEFINE_integer("label_seed", 0, "Seed of the --label_fraction choice (the same in every row of a study).")
flags.DEFINE_boolean("guide_flip_test", False, "Track an unlabeled clip's pseudo-labels from the teacher's (or "
                     "the single model's) flip-test detection of frame 0, in inference mode, instead of its plain "
                     "detection: one more forward pass of 2 images per clip.")
flags.DEFINE_boolean("augment", True, "Flip / rotation / scale / translation / colour augmentation (and blur and "
                     "noise with --augment_blur, --augment_noise).")
flags.DEFINE_float("augment_rotation", 15.0, "Augmentation: rotation uniformly in [-r, r] degrees.")
flags.DEFINE_float("augment_scale", 0.1, "Augmentation: crop zoom uniformly in [1 - s, 1 + s].")
flags.DEFINE_float("augment_shift", 0.05, "Augmentation: translation uniformly in [-t, t] x the crop side, per axis.")
flags.DEFINE_float("augment_blur", 0.0, "Augmentation: probability of a Gaussian blur, sigma uniformly in "
                   "[0.5, 1.5] crop pixels.", lower_bound=0.0, upper_bound=1.0)
flags.DEFINE_float("augment_noise", 0.0, "Augmentation: additive Gaussian noise, standard deviation uniformly in "
                   "[0, n] grey levels.", lower_bound=0.0)
flags.DEFINE_float("occluder_prob", 0.3, "Probability that a moving occluder crosses a clip made from a still.")
flags.DEFINE_float("still_motion", 1.0, "Scale of the synthetic motion between the frames of a training clip made "
                   "from a still (--data=300w_clips; validation clips keep 1.0). At 1.0: random velocities of "
                   "1.5 degrees, 1% zoom and 1% of the crop side per frame (standard deviations, plus a little "
                   "acceleration) and a smooth non-rigid warp of 1.5 pixels at the last frame.", lower_bound=0.0)
flags.DEFINE_float("label_x_offset", 0.0, "How far right of the point it marks an annotation sits, as a fraction of "
                   "the face-box side; horizontal flips (augmentation, the flip test) keep it. 0.0046 for the "
                   "shared 300W crops (results/core.md).")
flags.DEFINE_float("crop_margin", CROP_MARGIN, "Crop side / face-box side of every crop the network sees (training, "
                   "validation; evaluate, export and infer read it from the run): smaller frames the face larger "
                   "in the input. The face box is the tight box of the landmarks, or a detector's box mapped "
                   "onto it.", lower_bound=1.0)
flags.DEFINE_boolean("skip_bad", False, "Skip malformed annotations (reported) instead of stopping.")

# Network.
flags.DEFINE_integer("num_points", 68, "Landmarks per face, recorded in a run's flags.txt from its training data "
                     "(68 iBUG, 19 AFLW); the value given is not used.")
flags.DEFINE_integer("input_size", 64, "Input crop side S.")
flags.DEFINE_integer("heatmap_stride", 2, "Heatmaps, offsets and flow are at S / stride.")
flags.DEFINE_list("widths", ["16", "32", "48", "64"], "Encoder widths per stage (stage i at S / 2^(i+1)).")
flags.DEFINE_integer("blocks", 1, "Residual blocks per encoder stage.")
flags.DEFINE_integer("head_width", 32, "Channels of the decoder (the CLOR heads' hidden convs: half as many).")
flags.DEFINE_integer("lhr_width", 0, "Channels of the LHR head's hidden 3x3 conv (0 = none).")
flags.DEFINE_list("flow_widths", ["16", "32", "48"], "Motion-field encoder widths.")
flags.DEFINE_integer("flow_scales", 3, "Motion-field scales.")
flags.DEFINE_enum("heatmap_decoder", "soft_argmax", ["soft_argmax", "argmax"],
                  "How p_M is read from the heatmaps: soft-argmax (what the softmax loss's integral term trains) "
                  "or the custom op's argmax + parabolic refinement (for MSE heatmaps).")
flags.DEFINE_enum("precision", "float32", PRECISIONS,
                  "Compute dtype of the landmark net (bfloat16: mixed precision, float32 weights and outputs; "
                  "~1.5x faster on CPUs with AMX / AVX512-BF16 and on GPUs, several times slower on other CPUs; "
                  "auto: bfloat16 where the hardware has it, float32 elsewhere).")

# TSAL.
flags.DEFINE_integer("clip_length", 3, "K frames per clip (frame 0 labeled).")
flags.DEFINE_boolean("sic", True, "Structure-invariance constraint L_I (eq. 2).")
flags.DEFINE_boolean("mfds", True, "Motion-field deviation suppression L_D (eq. 3).")
flags.DEFINE_boolean("async_learning", True, "Teacher-student asynchronous learning (off = single model).")
flags.DEFINE_boolean("average_student", False, "With --noasync_learning: eq. 8 still updates the untrained "
                     "teacher after every step, which becomes a moving average of the single model (the network "
                     "evaluated and exported; --queue_length=1 and --ema_lambda=0.999: Polyak averaging). Its lambda "
                     "warms up as min(lambda, (1 + t) / (10 + t)) at step t.")
flags.register_multi_flags_validator(
    ["average_student", "async_learning"], lambda f: not (f["average_student"] and f["async_learning"]),
    "--average_student needs --noasync_learning: with asynchronous learning eq. 8 already makes the trained "
    "teacher an average of the student")
flags.DEFINE_float("mu", 0.6, "Student target mix mu * tracking + (1 - mu) * p_C (eq. 5).")
flags.DEFINE_float("gamma", 0.8, "Test-time fusion p = gamma p_M + (1 - gamma) p_C.")
flags.DEFINE_integer("queue_length", 4, "Student weight queue length v (eq. 8); 1 = mean teacher.")
flags.DEFINE_float("ema_lambda", 0.99, "Teacher smoothing lambda (eq. 8).")
flags.DEFINE_float("swa_start", 1.0, "Fraction of the training steps after which eq. 8's window grows: the "
                   "teacher becomes a uniform mean of the student's weights since then, once that is longer than "
                   "the moving average's last 1/(1 - lambda_t) steps (stochastic weight averaging); 1: the moving "
                   "average alone.",
                   lower_bound=0.0, upper_bound=1.0)
flags.DEFINE_enum("tail_teacher", "trained", ["trained", "average"],
                  "The trained teacher in --swa_start's tail: 'trained' keeps its own gradient steps (its n-th tail "
                  "step is (1/n) sum_s (Avg(T)_s + (s - 1) delta_s)); 'average' drops them, so that it becomes the "
                  "uniform mean of the students, as --average_student's teacher (tsal_tf/teacher_update.py). "
                  "It acts on a trained teacher (--async_learning) with a tail (--swa_start below 1); lacking "
                  "one of them, both values train the same.")
flags.register_multi_flags_validator(
    ["swa_start", "average_student", "async_learning"],
    lambda f: f["swa_start"] >= 1.0 or f["average_student"] or f["async_learning"],
    "--swa_start below 1 averages the student into a teacher: it needs --async_learning (a trained teacher) or "
    "--average_student (an untrained one)")
flags.DEFINE_enum("heatmap_loss", "softmax", ["softmax", "mse"],
                  "LHR loss: spatial-softmax KL + integral L1, or the paper's heatmap MSE.")
flags.DEFINE_float("heatmap_sigma", 1.0, "Gaussian sigma of heatmap targets, heatmap pixels.")
flags.DEFINE_float("heatmap_weight", 1.0, "Weight of l_M.")
flags.DEFINE_float("integral_weight", 2.0, "Weight of the integral (soft-argmax) term inside the softmax l_M (L1, "
                   "or a Wing loss with --wing_width).")
flags.DEFINE_float("wing_width", 0.0, "Softmax loss only: with a width w > 0 (heatmap pixels) the integral term is "
                   "the Wing loss w ln(1 + |x| / eps) below w, L1 beyond (losses.wing); 0 = L1.", lower_bound=0.0)
flags.DEFINE_float("wing_epsilon", 0.5, "Curvature eps of --wing_width's Wing loss, heatmap pixels: its slope at 0 "
                   "is w / eps times L1's.", lower_bound=1e-3)
flags.register_multi_flags_validator(
    ["wing_width", "heatmap_loss"], lambda f: f["wing_width"] == 0 or f["heatmap_loss"] == "softmax",
    "--wing_width shapes the integral term of --heatmap_loss=softmax; the MSE loss has none")
flags.DEFINE_float("foreground_weight", 10.0, "MSE loss only: extra weight of pixels near a landmark (0 = plain MSE).")
flags.DEFINE_float("clor_weight", 1.0, "Weight of l_C (focal + offsets).")
flags.DEFINE_float("offset_weight", 1.0, "Weight of the offset L1 inside l_C.")
flags.DEFINE_float("flow_weight", 1.0, "Weight of l_E.")
flags.DEFINE_float("smoothness_weight", 0.1, "Flow smoothness weight inside l_E.")
flags.DEFINE_float("ssim_weight", 0.0, "Weight of MotionNet's SSIM term inside l_E (0 = off: not yet measured "
                   "on the learning curve).")
flags.DEFINE_float("sic_weight", 10.0, "Weight of L_I.")
flags.DEFINE_float("mfds_weight", 0.01, "Weight of L_D (heatmap pixels squared).")
flags.DEFINE_float("pseudo_weight", 1.0, "Weight of the pseudo-label losses L_d (eq. 4/5), the same loss as l_M.")
flags.DEFINE_float("fb_gate", 0.0, "Forward-backward gate of the tracked pseudo-labels (SBR): a point trains L_d only "
                   "when tracking it back to frame 0 lands within this many heatmap pixels of its start; 0 = off. "
                   "It checks that the motion field agrees with itself, not that it moves: an untrained, all-zero "
                   "field passes every point.", lower_bound=0.0)

# Optimisation.
flags.DEFINE_integer("batch_size", 8, "Clips per step (global, across replicas).")
flags.DEFINE_integer("epochs", 140, "Epochs (also the end of the omega decay period); 0 = no training steps, e.g. "
                     "to save a model whose motion field --motion_pretrain_steps fitted, for --init_from.", lower_bound=0)
flags.DEFINE_integer("steps_per_epoch", 0, "Steps per epoch (0 = one pass over the training clips).")
flags.DEFINE_float("learning_rate", 1.25e-4, "Adam (peak) learning rate.")
flags.DEFINE_enum("lr_schedule", "step", LR_SCHEDULES,
                  "step: x0.1 at each of --lr_decay_epochs (paper); cosine: linear warm-up over --warmup_steps, "
                  "then cosine decay to --lr_final_fraction x the peak at the last step.")
flags.DEFINE_list("lr_decay_epochs", ["90", "120"], "Epochs where the learning rate drops x0.1 each (step schedule).")
flags.DEFINE_integer("warmup_steps", 200, "Linear warm-up steps of the cosine schedule.")
flags.DEFINE_float("lr_final_fraction", 0.0, "Cosine schedule: the last step's learning rate as a fraction of the "
                   "peak (0 = decay to 0).")
flags.DEFINE_float("weight_decay", 0.0, "Decoupled weight decay (AdamW) of the kernels when positive: "
                   "w -= weight_decay * lr * w after each step; BatchNorm scales/shifts and biases are not decayed.")
flags.DEFINE_float("climb_end", 60, "omega(t): end of the climb period (epochs).")
flags.DEFINE_float("retain_end", 110, "omega(t): end of the retention period (epochs); decay until --epochs.")

# Run.
flags.DEFINE_string("run_dir", "runs/demo", "Checkpoints, TensorBoard logs, flags and validation results.")
flags.DEFINE_integer("checkpoint_every", 100, "Checkpoint every this many steps, at each epoch end, and at the step "
                     "in progress when Ctrl-C or SIGTERM stops training.")
flags.DEFINE_string("init_from", None, "Start both networks from the network a user gets from this run directory "
                    "(its teacher, or its single model): fine-tuning, e.g. a 300W model on your own videos.")
flags.DEFINE_boolean("resume", False, "Continue from the latest checkpoint in --run_dir.")
flags.DEFINE_integer("motion_pretrain_steps", 0, "Before the first step of a new run (after --init_from), fit the "
                     "motion field alone on l_E for this many steps (tsal_tf.motion_pretrain): a model trained on "
                     "single frames has an untrained, all-zero flow, and tracks its pseudo-labels with no motion.",
                     lower_bound=0)
flags.DEFINE_float("motion_pretrain_lr", 1e-3, "Adam's learning rate of --motion_pretrain_steps (cosine-decayed "
                   "to 0 over them).")
flags.register_validator("motion_pretrain_lr", lambda rate: rate > 0, "--motion_pretrain_lr must be positive")
flags.register_multi_flags_validator(
    ["motion_pretrain_steps", "clip_length"], lambda f: not f["motion_pretrain_steps"] or f["clip_length"] > 1,
    "--motion_pretrain_steps needs clips (--clip_length of 2 or more): single frames have no motion")
flags.DEFINE_integer("cpu_devices", 1, "Split the CPU into this many logical devices (MirroredStrategy).")
flags.DEFINE_enum("normalizer", "inter_pupil", NORMALIZERS,
                  "NME normaliser for validation.")
flags.DEFINE_integer("seed", 0, "Random seed.")
flags.DEFINE_boolean("deterministic", False, "TensorFlow op determinism: the same seed gives the same weights "
                     "bit for bit on the same machine (slower; the README's main command uses it).")
flags.DEFINE_integer("verbose", 1, "Progress: 1 = a compact step line (in place on a terminal, four times per "
                     "epoch in a log) and one line per epoch with the validation NME; 2 = the epoch lines only; "
                     "0 = quiet.")
flags.DEFINE_float("max_train_minutes", 0, "Stop after this many minutes of training and save what was trained "
                   "(0 = no limit); for machines lent for a fixed time.")
flags.DEFINE_integer("workers", 4, "Threads producing batches under KERAS_BACKEND=jax (keras.utils.PyDataset).")
flags.DEFINE_boolean("worker_processes", False, "Under KERAS_BACKEND=jax, the --workers are processes forked "
                     "from the trainer rather than threads (keras.utils.PyDataset use_multiprocessing): the same "
                     "batches, for many-core machines where threads contend for Python's GIL in the NumPy "
                     "augmentation. Python warns that forking a multithreaded JAX process may deadlock; the "
                     "workers touch no JAX (one GPU run and the tests so far, no hang).")
