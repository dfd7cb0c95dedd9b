"""Integer codes shared by every backend.

Kernels branch on an integer code rather than taking a function argument:
passing jitted functions as arguments defeats numba's on-disk cache and
multiplies specialisations.
"""
LINEAR = 0
RELU = 1
LEAKY_RELU = 2   # uses the scalar ``alpha`` (slope for x < 0), alpha >= 0
SIGMOID = 3
TANH = 4

ACTIVATIONS = {
    "linear": LINEAR,
    "relu": RELU,
    "leaky_relu": LEAKY_RELU,
    "sigmoid": SIGMOID,
    "tanh": TANH,
}

# --- the compiled training step's tables (kernels/cpu/step.py) ---------------
# ``fastnn/compiled.py`` writes them, the step reads them; both name the
# columns from here, so the layout is stated once.

# layer kinds, the PROG_KIND column
KIND_DENSE = 0
KIND_ACT = 1
KIND_DROPOUT = 2
KIND_BATCHNORM = 3

# ``prog``: one int64 row per layer
PROG_KIND = 0        # KIND_*
PROG_ACT = 1         # Dense and Activation: the activation code above
PROG_HAS_BIAS = 2    # Dense: 1 with a bias
PROG_IN = 3          # input features
PROG_OUT = 4         # output features
PROG_W_OFF = 5       # Dense: offset of W (in, out) in the flat parameter buffer
PROG_B_OFF = 6       # Dense: offset of b
PROG_GAMMA_OFF = 6   # BatchNorm: offset of gamma (the same column as b)
PROG_BETA_OFF = 7    # BatchNorm: offset of beta
PROG_STATS_OFF = 8   # BatchNorm: offset of its (mean, rstd) in ``stats`` and of
                     # its (running_mean, running_var) in ``running``, 2 * out each
PROG_ACTS_OFF = 9    # offset of the layer's output (batch, out) in ``acts``; its
                     # gradient lives at the same offset in ``dacts``
PROG_MASK_OFF = 10   # Dropout: offset of its packed keep bits in ``masks``
PROG_COLUMNS = 11

# ``fprog``: one float64 row per layer
FPROG_ALPHA = 0      # Dense and Activation: leaky relu's slope
FPROG_KEEP_PROB = 1  # Dropout
FPROG_MOMENTUM = 2   # BatchNorm: the running statistics' momentum
FPROG_EPS = 3        # BatchNorm
FPROG_COLUMNS = 4

# losses (``fastnn.losses.LOSS_KINDS`` holds each loss's code); LOSS_NONE:
# inference without a loss
LOSS_NONE = -1
LOSS_SOFTMAX_CROSS_ENTROPY = 0
LOSS_BINARY_CROSS_ENTROPY = 1
LOSS_MEAN_SQUARED_ERROR = 2

# optimizers (each ``fastnn.optim`` class names its own ``compiled_code``)
OPT_SGD = 0
OPT_MOMENTUM = 1
OPT_RMSPROP = 2
OPT_ADAM = 3

# ``hyper``: the optimizer's float64 hyperparameters for one step, filled by
# ``Optimizer.compiled_hyper``; a slot an optimizer does not use stays 0
HYPER_LR = 0
HYPER_BETA1 = 1      # Momentum and RMSprop: beta; Adam: beta1
HYPER_BETA2 = 2
HYPER_EPS = 3
HYPER_WEIGHT_DECAY = 4
HYPER_DECOUPLED = 5  # 1.0 for AdamW's decoupled decay
HYPER_BC1 = 6        # Adam's bias corrections 1 - beta^t, computed on the host
HYPER_BC2 = 7
HYPER_SLOTS = 8

# ``batch_check``: the compiled step's one int64, in and out. In: whether the
# step tests its batch before using it (``train_step``: x finite, labels in
# range, targets finite, in [0, 1] for binary cross-entropy) or not (``fit``,
# which tested its whole dataset once). Out: BATCH_BAD when the test failed;
# the step then returns at once, having written nothing else.
BATCH_UNCHECKED = 0
BATCH_CHECK = 1
BATCH_BAD = 2

# ``counters``: the int64 device state of a replayed GPU step
# (``fastnn/device_step.py``), advanced on the device by the step itself, so
# a replay (or a CUDA graph) needs no new arguments. The bias corrections are
# then computed on the device from COUNTER_T (HYPER_BC1/2 are not read).
COUNTER_BATCH = 0    # the epoch's next batch: its rows and its slot in the cost buffer
COUNTER_T = 1        # the optimizer's updates so far (Adam's t)
COUNTER_SLOTS = 2

# ---- the course's training loop (kernels/*/course.py) -------------------------------
# slots of its float64 ``hyper``
COURSE_LAMBD = 0          # the course's L2 lambda (0: none)
COURSE_KEEP_PROB = 1      # dropout keep probability of the fixed masks (1: none)
COURSE_BETA1 = 2          # momentum's beta, Adam's beta1
COURSE_BETA2 = 3
COURSE_EPS = 4
COURSE_HYPER_SLOTS = 5
# its update rules (OPT_* codes where one exists)
COURSE_GD = OPT_SGD
COURSE_MOMENTUM = OPT_MOMENTUM
COURSE_ADAM = OPT_ADAM
