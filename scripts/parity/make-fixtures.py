#!/usr/bin/python3
"""Writes the PyTorch parity fixtures of test/parity.test.ts into test/fixtures/parity/.

Run with Debian's python3-torch (no other package):  /usr/bin/python3 scripts/parity/make-fixtures.py [NAME...]
(with names or name prefixes, e.g. `cnn-`, only those cases are written; the others are kept).

For each case: float32 inputs (teacher and student weights and batch-norm running statistics, two
batches, T, alpha, optimizer settings) and what PyTorch computes from them in float64, tensor by
tensor: teacher and student logits, the loss, every gradient, and the weights after step 1 and
after step 2 (step 2 exercises momentum / Adam moments and bias correction), the optimizer state
and the student's running statistics after each step. The MLP cases (CASES) and the CNN cases
(CNN_CASES: conv with groups, depthwise, stride and padding; max and average pooling; gap; batch
norm in training mode in the students and in eval mode in the teachers; flatten) share it all.
The same two steps are also run by PyTorch in float32 (F32_RUNS times, the batch rows in other
orders); their worst distance from float64, per tensor, is written to cases.json and is what the
test's tolerance is made of (see TOLERANCE_FACTOR below). The fixtures are checked in, so
`npm test` needs no Python. The negative controls are the same two steps with one thing changed
on purpose (`variant` in run(): no T^2, reversed KL, another momentum, AdamW's 1 - beta2 rounded
as the WASM builds once did, a convolution with its kernel flipped, batch norm normalizing by the
unbiased variance).

Layout (one safetensors file per case, little-endian, names as the project's ParamStore):
  teacher.<param>, student.<param>      F32  initial weights (PyTorch layout: Dense W is (out, in),
                                             conv W is (OC, C/groups, K, K); batch norm: weight = gamma, bias = beta)
  teacher_buffers.<buf>, student_buffers.<buf>  F32  initial running_mean / running_var of each batch norm
  batch<k>.x F32 (N, *input), batch<k>.y I32 (N)  k = 1, 2: the batch of step k (images NCHW)
  step<k>.teacher_logits, step<k>.student_logits  F64 (N, K): forward of step k (student weights before step k)
  step<k>.loss F64 (1), step<k>.grad.<param> F64, step<k>.param.<param> F64 (weights after step k)
  step<k>.state.<buf>.<param> F64   optimizer state after step k, by the project's names: momentum
                                    (SGD with momentum), m and v (AdamW)
  step<k>.buffer.<buf> F64          the student's batch-norm running statistics after step k
                                    (momentum 0.1, unbiased variance)
  control.<name>.step<k>.*   the same for a deliberately wrong reference (the test's negative controls)

To extend (int8, another layer, ...): teach model() the new layer spec, param_shapes() its
parameters (buffer_shapes() its buffers), FORWARD its PyTorch forward (and init_params() its init,
if it differs), then add cases that use it to CASES or CNN_CASES and write just those
(`make-fixtures.py NAME...`: PyTorch's float32 error, the tolerances' base, differs a little
between machines, so the other cases' files stay as they are); new optimizer state goes into
STATE_NAMES. Everything else (two
steps, the float32 runs, controls, files, the test's comparison) is generic over the parameter
dict, and the test builds the models from the same configs.
"""

import json
import math
import pathlib
import re
import struct
import sys

import torch
import torch.nn.functional as F

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "test" / "fixtures" / "parity"

# What the test allows per tensor: TOLERANCE_FACTOR times PyTorch's own float32 error on that
# tensor (max |f32 - f64| / max |f64|, the worst of F32_RUNS runs), never less than
# TOLERANCE_FACTOR * 2^-24 (half an f32 ulp, relative); for the loss, a scalar, at least its
# float32 rounding bound (f32_bound, see loss_f32_bound). The test reads these from cases.json.
TOLERANCE_FACTOR = 8
TOLERANCE_FLOOR = 2.0 ** -24
# The absolute bound (max |backend - float64| per element) on every case's logits, loss, gradients,
# weights, optimizer state and batch-norm running statistics, but the largeLogits cases' (logits of
# about 100: float32's own spacing there is about 1e-5, and the gradients follow).
ABS_TOLERANCE = 1e-4
# A float64 reference tensor whose largest element is below this is zero in exact arithmetic
# (zero_reference in cases.json): only the absolute bound applies to it.
ZERO_REFERENCE = 1e-12
# PyTorch float32 runs per case whose worst error per tensor is torch_f32_error (see make_case).
F32_RUNS = 4

# ---------------------------------------------------------------------------------------------
# Models: the project's model config (src/nn/spec.ts: an input shape and layer specs such as
# "dense:16", "relu", "gelu") becomes a list of layers; parameters live in a dict keyed by the
# project's ParamStore names (dense layer i: layers.i.weight, layers.i.bias).


def model(config):
    """The layers of a config, each with what PyTorch needs to run it. The first entry reshapes the
    flat (N, C*H*W) batch to (N, *input), as the project reads a sample (NCHW)."""
    layers, shape, k = [{"kind": "input", "shape": list(config["input"])}], list(config["input"]), 0
    for spec in config["layers"]:
        kind, _, arg = spec.partition(":")
        arg, _, mods = arg.partition("/")
        m = {key or key2: (True if key else int(v)) for key, key2, v in re.findall(r"(dw)|([spg])(\d+)", mods)}
        if kind == "dense":
            layers.append({"kind": "dense", "name": f"layers.{k}", "in": math.prod(shape), "out": int(arg)})
            k, shape = k + 1, [int(arg)]
        elif kind in ("conv", "dwconv"):
            C, H, W = shape
            oc, ks = (C, int(arg)) if kind == "dwconv" else map(int, arg.split("x"))
            stride, pad = m.get("s", 1), m.get("p", (ks - 1) // 2)
            groups = C if kind == "dwconv" or m.get("dw") else m.get("g", 1)
            layers.append({"kind": "conv", "name": f"layers.{k}", "in": C, "out": oc, "k": ks, "stride": stride, "pad": pad, "groups": groups})
            k, shape = k + 1, [oc, (H + 2 * pad - ks) // stride + 1, (W + 2 * pad - ks) // stride + 1]
        elif kind in ("maxpool", "avgpool"):
            C, H, W = shape
            ks = int(arg)
            stride, pad = m.get("s", ks), m.get("p", 0)
            layers.append({"kind": kind, "k": ks, "stride": stride, "pad": pad})
            shape = [C, (H + 2 * pad - ks) // stride + 1, (W + 2 * pad - ks) // stride + 1]
        elif kind == "gap":
            layers.append({"kind": "gap"})
            shape = [shape[0]]
        elif kind == "flatten":
            layers.append({"kind": "flatten"})
            shape = [math.prod(shape)]
        elif kind == "bn":
            layers.append({"kind": "bn", "name": f"layers.{k}", "C": shape[0]})
            k += 1
        elif kind in ("relu", "gelu"):
            layers.append({"kind": kind})
        else:
            raise ValueError(f"no PyTorch rule for layer spec '{spec}' yet: add it here and to FORWARD")
    return layers


def mlp(widths, activation):
    """The project's config of an MLP: dense -> activation per hidden layer, dense to the logits."""
    layers = []
    for i, w in enumerate(widths[1:]):
        layers += [f"dense:{w}"] + ([activation] if i + 2 < len(widths) else [])
    return {"input": [widths[0]], "layers": layers}


def param_shapes(spec):
    """Trained parameters by ParamStore name (PyTorch layouts: Dense (out, in), conv (OC, C/groups, K, K))."""
    shapes = {}
    for l in spec:
        if l["kind"] == "dense":
            shapes[l["name"] + ".weight"] = (l["out"], l["in"])
            shapes[l["name"] + ".bias"] = (l["out"],)
        elif l["kind"] == "conv":
            shapes[l["name"] + ".weight"] = (l["out"], l["in"] // l["groups"], l["k"], l["k"])
            shapes[l["name"] + ".bias"] = (l["out"],)
        elif l["kind"] == "bn":  # gamma, beta
            shapes[l["name"] + ".weight"] = (l["C"],)
            shapes[l["name"] + ".bias"] = (l["C"],)
    return shapes


def buffer_shapes(spec):
    """Buffers (not trained) by BufferStore name: batch norm's running statistics."""
    shapes = {}
    for l in spec:
        if l["kind"] == "bn":
            shapes[l["name"] + ".running_mean"] = (l["C"],)
            shapes[l["name"] + ".running_var"] = (l["C"],)
    return shapes


BN_MOMENTUM, BN_EPS = 0.1, 1e-5  # PyTorch's defaults, and the project's (src/nn/layers.ts)


def conv(l, P, h, ctx):
    w = P[l["name"] + ".weight"]
    if ctx["variant"] == "conv_flipped":  # control: true convolution (kernel flipped) instead of cross-correlation
        w = w.flip(2, 3)
    return F.conv2d(h, w, P[l["name"] + ".bias"], stride=l["stride"], padding=l["pad"], groups=l["groups"])


def batch_norm(l, P, h, ctx):
    """F.batch_norm: in training, the batch's statistics over (N, H, W) per channel with the biased
    variance, and the running statistics updated in place (momentum 0.1, unbiased variance); in
    eval mode the running statistics. By hand (variant bn_by_hand, checked against F.batch_norm in
    make_case) or with the unbiased variance in the normalization (control bn_unbiased)."""
    n = l["name"]
    g, b, rm, rv = P[n + ".weight"], P[n + ".bias"], ctx["B"][n + ".running_mean"], ctx["B"][n + ".running_var"]
    if not ctx["training"] or ctx["variant"] not in ("bn_by_hand", "bn_unbiased"):
        return F.batch_norm(h, rm, rv, g, b, training=ctx["training"], momentum=BN_MOMENTUM, eps=BN_EPS)
    dims = [0] + list(range(2, h.dim()))
    view = [1, -1] + [1] * (h.dim() - 2)
    mean = h.mean(dims)
    var = h.var(dims, unbiased=ctx["variant"] == "bn_unbiased")
    with torch.no_grad():
        rm.mul_(1 - BN_MOMENTUM).add_(mean.detach(), alpha=BN_MOMENTUM)
        rv.mul_(1 - BN_MOMENTUM).add_(h.var(dims, unbiased=True).detach(), alpha=BN_MOMENTUM)
    return (h - mean.view(view)) / (var.view(view) + BN_EPS).sqrt() * g.view(view) + b.view(view)


FORWARD = {
    "input": lambda l, P, h, ctx: h.reshape(h.shape[0], *l["shape"]),
    "dense": lambda l, P, h, ctx: F.linear(h, P[l["name"] + ".weight"], P[l["name"] + ".bias"]),
    "relu": lambda l, P, h, ctx: F.relu(h),
    "gelu": lambda l, P, h, ctx: F.gelu(h, approximate="tanh"),
    "conv": conv,
    "maxpool": lambda l, P, h, ctx: F.max_pool2d(h, l["k"], stride=l["stride"], padding=l["pad"]),
    "avgpool": lambda l, P, h, ctx: F.avg_pool2d(h, l["k"], stride=l["stride"], padding=l["pad"], count_include_pad=True),
    "gap": lambda l, P, h, ctx: h.mean((2, 3)),
    "flatten": lambda l, P, h, ctx: h.flatten(1),
    "bn": batch_norm,
}


def forward(spec, P, x, B=None, training=True, variant=None):
    """B: the model's buffers (updated in place by a training forward through batch norm)."""
    ctx = {"B": B if B is not None else {}, "training": training, "variant": variant}
    h = x
    for l in spec:
        h = FORWARD[l["kind"]](l, P, h, ctx)
    return h


def init_params(spec, gen):
    """Float32 weights: uniform(+-sqrt(6/(fan_in+fan_out))) dense and conv weights, uniform(+-0.1)
    biases (non-zero on purpose), batch norm gamma uniform(0.5, 1.5) and beta uniform(+-0.1)."""
    P = {}
    u = lambda shape: torch.rand(shape, generator=gen, dtype=torch.float32) * 2 - 1
    for l in spec:
        if l["kind"] not in ("dense", "conv", "bn"):
            continue
        shapes = {k: v for k, v in param_shapes([l]).items()}
        for name, shape in shapes.items():
            if l["kind"] == "bn":
                P[name] = 1 + 0.5 * u(shape) if name.endswith(".weight") else 0.1 * u(shape)
            elif name.endswith(".weight"):
                rf = math.prod(shape[2:])  # receptive field (conv)
                lim = math.sqrt(6.0 / (shape[1] * rf + shape[0] * rf))
                P[name] = u(shape) * lim
            else:
                P[name] = u(shape) * 0.1
    return P


def init_buffers(spec, gen):
    """Batch norm running statistics away from 0 and 1 (mean uniform(+-0.3), var uniform(0.5, 1.5)), so
    that an update which ignored them, or eval mode that used the batch's, shows."""
    B = {}
    for name, shape in buffer_shapes(spec).items():
        r = torch.rand(shape, generator=gen, dtype=torch.float32)
        B[name] = (r * 2 - 1) * 0.3 if name.endswith("running_mean") else 0.5 + r
    return B


def scale_logits(spec, P, x, target):
    """Scales the last Dense (weight and bias, in float32) so that max |logit| on x is about `target`."""
    last = [l for l in spec if l["kind"] == "dense"][-1]["name"]
    with torch.no_grad():
        z = forward(spec, {k: v.double() for k, v in P.items()}, x.double())
    c = target / float(z.abs().max())
    P[last + ".weight"] = (P[last + ".weight"].double() * c).float()
    P[last + ".bias"] = (P[last + ".bias"].double() * c).float()


# ---------------------------------------------------------------------------------------------
# Objective and optimizers (PyTorch's own; the controls change one thing each).


def kd_loss(s, t, y, kd, variant=None):
    """alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, y), batch means."""
    T, alpha = kd["T"], kd["alpha"]
    log_ps, log_pt = F.log_softmax(s / T, dim=1), F.log_softmax(t / T, dim=1)
    if variant == "reversed_kl":  # control: KL(p_s || p_t)
        kl = F.kl_div(log_pt, log_ps, reduction="batchmean", log_target=True)
    else:
        kl = F.kl_div(log_ps, log_pt, reduction="batchmean", log_target=True)
    scale = T * T if kd.get("scaleT2", True) and variant != "no_t2" else 1.0
    loss = alpha * scale * kl
    if alpha < 1:
        loss = loss + (1 - alpha) * F.cross_entropy(s, y)
    return loss


def make_optimizer(params, o):
    if o["kind"] == "sgd":
        return torch.optim.SGD(params, lr=o["lr"], momentum=o["momentum"], dampening=0,
                               weight_decay=o["weightDecay"], nesterov=o["nesterov"], foreach=False)
    if o["kind"] == "adamw":
        return torch.optim.AdamW(params, lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"],
                                 weight_decay=o["weightDecay"], amsgrad=False, foreach=False)
    raise ValueError(o["kind"])


class AdamWComplement:
    """AdamW by hand, with (1 - beta2) given separately: the control that reproduces the WASM defect
    (1 - f32(beta2) computed in float32, bias correction from the exact beta2). With the exact
    complement it equals torch.optim.AdamW; make_case checks that."""

    def __init__(self, params, o, c2):
        self.params, self.o, self.c2, self.t = params, o, c2, 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        o = self.o
        self.t += 1
        bc1, bc2 = 1 - o["beta1"] ** self.t, 1 - o["beta2"] ** self.t
        for p, m, v in zip(self.params, self.m, self.v):
            p.mul_(1 - o["lr"] * o["weightDecay"])
            m.mul_(o["beta1"]).add_(p.grad, alpha=1 - o["beta1"])
            v.mul_(o["beta2"]).addcmul_(p.grad, p.grad, value=self.c2)
            p.sub_(o["lr"] / bc1 * m / ((v / bc2).sqrt() + o["eps"]))


def f32_complement(beta):
    """1 - beta as the WASM builds computed it: both operands and the result in float32."""
    b = struct.unpack("<f", struct.pack("<f", beta))[0]
    return float(torch.tensor(1.0, dtype=torch.float32) - torch.tensor(b, dtype=torch.float32))


# ---------------------------------------------------------------------------------------------
# Two training steps of one case, in a given dtype.


def run(case, inputs, dtype, variant=None, rows=None):
    """Two steps; `rows` (one permutation per batch) feeds each batch's rows in another order,
    which changes the order of every reduction over the batch and nothing else (the logits are
    returned in the original order)."""
    tspec, sspec = case["_tspec"], case["_sspec"]
    TP = {k: v.to(dtype) for k, v in inputs["teacher"].items()}
    SP = {k: v.to(dtype).clone().requires_grad_(True) for k, v in inputs["student"].items()}
    TB = {k: v.to(dtype).clone() for k, v in inputs["teacher_buffers"].items()}
    SB = {k: v.to(dtype).clone() for k, v in inputs["student_buffers"].items()}
    o = dict(case["optimizer"])
    if variant == "other_momentum":
        o["momentum"] = case["controls"]["other_momentum"]
    if variant == "adamw_f32_complement":
        opt = AdamWComplement(list(SP.values()), o, f32_complement(o["beta2"]))
    elif variant == "adamw_by_hand":
        opt = AdamWComplement(list(SP.values()), o, 1 - o["beta2"])
    else:
        opt = make_optimizer(list(SP.values()), o)
    out = {}
    for k in (1, 2):
        x, y = inputs[f"batch{k}.x"].to(dtype), inputs[f"batch{k}.y"].long()
        perm = rows[k - 1] if rows else torch.arange(x.shape[0])
        inv = torch.argsort(perm)
        x, y = x[perm], y[perm]
        with torch.no_grad():
            t = forward(tspec, TP, x, TB, training=False, variant=variant)
        s = forward(sspec, SP, x, SB, training=True, variant=variant)
        loss = kd_loss(s, t, y, case["kd"], variant)
        opt.zero_grad()
        loss.backward()
        out[f"step{k}.teacher_logits"] = t.detach()[inv].clone()
        out[f"step{k}.student_logits"] = s.detach()[inv].clone()
        out[f"step{k}.loss"] = loss.detach().reshape(1).clone()
        for name, p in SP.items():
            out[f"step{k}.grad.{name}"] = p.grad.detach().clone()
        opt.step()
        for name, p in SP.items():
            out[f"step{k}.param.{name}"] = p.detach().clone()
        for buf, st in optimizer_state(opt, SP).items():
            out[f"step{k}.state.{buf}"] = st
        for name, b in SB.items():  # running statistics after step k's forward
            out[f"step{k}.buffer.{name}"] = b.clone()
    return out


# PyTorch's state names -> the project's (Optimizer.state() in src/optim/optimizer.ts).
STATE_NAMES = {"momentum_buffer": "momentum", "exp_avg": "m", "exp_avg_sq": "v"}


def optimizer_state(opt, SP):
    out = {}
    for name, p in SP.items():
        if isinstance(opt, AdamWComplement):
            i = next(j for j, q in enumerate(opt.params) if q is p)
            st = {"exp_avg": opt.m[i], "exp_avg_sq": opt.v[i]}
        else:
            st = opt.state.get(p, {})
        for k, t in st.items():
            if k in STATE_NAMES and t is not None:
                out[f"{STATE_NAMES[k]}.{name}"] = t.detach().clone()
    return out


def loss_f32_bound(case, inputs, ref, k):
    """A bound on the loss's relative error from rounding its terms to float32: 2^-24 times the sum
    of the magnitudes it is computed from (|log p| of both distributions, weighted by p_t; |lse| and
    |z_y| for CE) over |loss|. A scalar has one sample of float32 error; this is its worst case."""
    T, alpha = case["kd"]["T"], case["kd"]["alpha"]
    s, t, y = ref[f"step{k}.student_logits"], ref[f"step{k}.teacher_logits"], inputs[f"batch{k}.y"].long()
    n = s.shape[0]
    log_ps, log_pt = F.log_softmax(s / T, dim=1), F.log_softmax(t / T, dim=1)
    scale = T * T if case["kd"].get("scaleT2", True) else 1.0
    mag = alpha * scale / n * float((log_pt.exp() * (log_pt.abs() + log_ps.abs())).sum())
    if alpha < 1:
        mag += (1 - alpha) / n * float((torch.logsumexp(s, dim=1).abs() + s.gather(1, y[:, None])[:, 0].abs()).sum())
    return 2.0 ** -24 * mag / abs(float(ref[f"step{k}.loss"]))


def rel_err(a, ref):
    a, ref = a.double(), ref.double()
    mag = float(ref.abs().max())
    d = float((a - ref).abs().max())
    return d / mag if mag > 0 else d


def updates(res, inputs):
    """step<k>.update.<param> = weights after step k minus weights before it (float64)."""
    u = {}
    for name, w0 in inputs["student"].items():
        prev = w0.double()
        for k in (1, 2):
            cur = res[f"step{k}.param.{name}"].double()
            u[f"step{k}.update.{name}"] = cur - prev
            prev = cur
    return u


# ---------------------------------------------------------------------------------------------
# The cases.

TEACHER = [12, 20, 5]
STUDENT = [12, 16, 8, 5]
N = 7  # odd: 2 workers get shards of 3 and 4 rows


def sgd(lr=0.1, momentum=0.9, nesterov=False, weightDecay=0.0):
    return {"kind": "sgd", "lr": lr, "momentum": momentum, "nesterov": nesterov, "weightDecay": weightDecay}


def adamw(lr=0.2, beta1=0.9, beta2=0.999, eps=1e-8, weightDecay=0.01):
    return {"kind": "adamw", "lr": lr, "beta1": beta1, "beta2": beta2, "eps": eps, "weightDecay": weightDecay}


CASES = [
    # name, student activation, T, alpha, optimizer, extra
    dict(name="relu-T1-a0.5-sgd", act="relu", T=1, alpha=0.5, optimizer=sgd()),
    dict(name="relu-T4-a0.9-sgd-wd", act="relu", T=4, alpha=0.9, optimizer=sgd(weightDecay=5e-4),
         controls={"no_t2": True, "reversed_kl": True, "other_momentum": 0.89}),
    dict(name="gelu-T4-a0.9-nesterov-wd", act="gelu", T=4, alpha=0.9, optimizer=sgd(nesterov=True, weightDecay=1e-3)),
    dict(name="gelu-T20-a1-sgd", act="gelu", T=20, alpha=1.0, optimizer=sgd(lr=0.5, momentum=0.5),
         controls={"no_t2": True}),
    dict(name="relu-T20-a0.5-plain-sgd", act="relu", T=20, alpha=0.5, optimizer=sgd(momentum=0.0)),
    dict(name="relu-T4-a0.9-no-t2", act="relu", T=4, alpha=0.9, optimizer=sgd(), scaleT2=False),
    dict(name="relu-T4-a0.9-adamw", act="relu", T=4, alpha=0.9, optimizer=adamw(),
         controls={"adamw_f32_complement": True}),
    dict(name="gelu-T1-a1-adamw", act="gelu", T=1, alpha=1.0, optimizer=adamw(weightDecay=0.0)),
    dict(name="gelu-T20-a0.5-adamw", act="gelu", T=20, alpha=0.5, optimizer=adamw(weightDecay=0.05),
         controls={"reversed_kl": True}),
    dict(name="relu-T1-a0.5-large-sgd", act="relu", T=1, alpha=0.5, optimizer=sgd(lr=0.01), large=True),
    dict(name="gelu-T4-a0.9-large-nesterov", act="gelu", T=4, alpha=0.9, optimizer=sgd(lr=0.01, nesterov=True, weightDecay=5e-4), large=True),
    dict(name="relu-T20-a1-large-adamw", act="relu", T=20, alpha=1.0, optimizer=adamw(), large=True),
]


# CNN cases (the project's image layers: src/nn/spec.ts). Input shapes are (C,H,W); the teachers
# run in eval mode, so a teacher's batch norm uses its (fixture) running statistics.
CNN_CASES = [
    # (a) workload C's student (conv16-pool-conv32-pool-fc10) scaled down, a CNN teacher.
    dict(name="cnn-conv-maxpool-T4-a0.9-sgd", T=4, alpha=0.9, optimizer=sgd(lr=0.1, momentum=0.9),
         teacher={"input": [1, 12, 12], "layers": ["conv:6x3", "relu", "maxpool:2", "conv:12x3", "relu", "maxpool:2", "flatten", "dense:24", "relu", "dense:10"]},
         student={"input": [1, 12, 12], "layers": ["conv:4x3", "relu", "maxpool:2", "conv:8x3", "relu", "maxpool:2", "flatten", "dense:10"]},
         controls={"conv_flipped": True}),
    # (b) batch norm (2-D in training, 1-D after gap; eval mode in the teacher), depthwise convs
    # (dwconv with stride 2, and conv/dw with 2 outputs per channel), a grouped 1x1 conv, gap;
    # AdamW. Batch norm follows GELU here: a bias right before batch norm (or before a ReLU that is
    # on for the whole batch, then batch norm) has a zero gradient, whose rounding noise AdamW
    # would turn into steps of about lr (case (d) has that pattern, with SGD).
    dict(name="cnn-conv-batchnorm-dwconv-gap-T2-a0.7-adamw", T=2, alpha=0.7, optimizer=adamw(lr=0.05, weightDecay=0.01),
         teacher={"input": [3, 10, 10], "layers": ["conv:8x3", "bn", "relu", "maxpool:2", "flatten", "dense:10"]},
         student={"input": [3, 10, 10], "layers": ["conv:8x3", "gelu", "bn", "dwconv:3/s2", "gelu", "bn", "conv:16x3/dw", "relu", "conv:12x1/g4", "gelu", "gap", "bn", "dense:10"]},
         controls={"bn_unbiased": True}),
    # (c) strided and padded convs (5x5 stride 2 padding 2; 2x2 padding 1), average pooling with
    # padding (counted as zeros), max pooling with padding, GELU; Nesterov SGD with weight decay.
    dict(name="cnn-conv-s2p2-avgpool-gelu-T4-a0.9-nesterov", T=4, alpha=0.9, optimizer=sgd(lr=0.05, nesterov=True, weightDecay=5e-4),
         teacher={"input": [2, 11, 11], "layers": ["conv:8x3/s2p0", "bn", "relu", "flatten", "dense:10"]},
         student={"input": [2, 11, 11], "layers": ["conv:6x5/s2p2", "gelu", "avgpool:3/s2p1", "conv:8x2/p1", "gelu", "maxpool:3/s1p1", "avgpool:2", "flatten", "dense:10"]}),
    # (d) conv -> batch norm -> relu blocks (the conv biases get zero gradients: only the absolute
    # bound says something about them), a grouped conv, gap; SGD with momentum.
    dict(name="cnn-conv-batchnorm-relu-gap-T4-a0.9-sgd", T=4, alpha=0.9, optimizer=sgd(lr=0.1, momentum=0.9, weightDecay=5e-4),
         teacher={"input": [1, 12, 12], "layers": ["conv:6x3", "relu", "maxpool:2", "flatten", "dense:10"]},
         student={"input": [1, 12, 12], "layers": ["conv:6x3", "bn", "relu", "maxpool:2", "conv:8x3/g2", "bn", "relu", "gap", "dense:10"]},
         controls={"bn_unbiased": True}),
]


def make_case(c, seed):
    case = {
        "name": c["name"],
        "file": c["name"] + ".safetensors",
        "teacher": c.get("teacher") or mlp(TEACHER, "relu"),
        "student": c.get("student") or mlp(STUDENT, c["act"]),
        "N": N,
        "kd": {"T": c["T"], "alpha": c["alpha"], "scaleT2": c.get("scaleT2", True)},
        "optimizer": c["optimizer"],
        "largeLogits": bool(c.get("large")),
        "controls": c.get("controls", {}),
    }
    case["_tspec"], case["_sspec"] = model(case["teacher"]), model(case["student"])
    gen = torch.Generator().manual_seed(seed)
    inputs = {"teacher": init_params(case["_tspec"], gen), "student": init_params(case["_sspec"], gen)}
    inputs["teacher_buffers"] = init_buffers(case["_tspec"], gen)
    inputs["student_buffers"] = init_buffers(case["_sspec"], gen)
    classes = case["_sspec"][-1]["out"]
    for k in (1, 2):
        inputs[f"batch{k}.x"] = torch.randn((N, *case["student"]["input"]), generator=gen, dtype=torch.float32)
        inputs[f"batch{k}.y"] = torch.randint(0, classes, (N,), generator=gen, dtype=torch.int32)
    if c.get("large"):  # logits of about +-100 on the first batch, teacher and student
        scale_logits(case["_tspec"], inputs["teacher"], inputs["batch1.x"], 100.0)
        scale_logits(case["_sspec"], inputs["student"], inputs["batch1.x"], 90.0)

    ref = run(case, inputs, torch.float64)
    ref.update(updates(ref, inputs))
    # PyTorch's float32 error per tensor: the worst of F32_RUNS runs, the batches as given and with
    # their rows in other orders (other summation orders, the same mathematics), so that one lucky
    # rounding does not make a tolerance.
    case["torch_f32_error"] = {k: 0.0 for k in ref}
    for r in range(F32_RUNS):
        rows = None if r == 0 else [torch.randperm(N, generator=gen) for _ in (1, 2)]
        r32 = run(case, inputs, torch.float32, rows=rows)
        r32.update(updates(r32, inputs))
        for k in ref:
            case["torch_f32_error"][k] = max(case["torch_f32_error"][k], rel_err(r32[k], ref[k]))
    case["f32_bound"] = {f"step{k}.loss": loss_f32_bound(case, inputs, ref, k) for k in (1, 2)}
    # Tensors that are zero in exact arithmetic (a bias right before batch norm: its gradient and
    # momentum) hold only float64 rounding noise; a relative error means nothing there, and the
    # test checks them against the absolute bound only.
    case["zero_reference"] = sorted(k for k in ref if float(ref[k].abs().max()) < ZERO_REFERENCE)
    case["max_abs_logit"] = max(float(ref["step1.teacher_logits"].abs().max()), float(ref["step1.student_logits"].abs().max()))

    if case["optimizer"]["kind"] == "adamw":
        # AdamW divides by sqrt(v): a gradient that is only rounding noise (zero in exact
        # arithmetic, e.g. a bias right before batch norm) would be a step of about lr in a
        # direction no float32 implementation can reproduce. Such a case is a bad fixture.
        for k in (1, 2):
            for name in inputs["student"]:
                g = ref[f"step{k}.grad.{name}"].abs()
                noise = g[(g > 0) & (g < 1e-9 * float(g.max()))]
                assert noise.numel() == 0, f"{c['name']}: step{k}.grad.{name} has rounding-noise elements {noise.tolist()}: a bad AdamW case"
        # The by-hand AdamW the control uses is torch's.
        hand = run(case, inputs, torch.float64, "adamw_by_hand")
        worst = max(rel_err(hand[k], ref[k]) for k in hand)
        assert worst < 1e-13, f"{c['name']}: {max(hand, key=lambda k: rel_err(hand[k], ref[k]))}: AdamW by hand differs from torch.optim.AdamW by {worst}"
    if inputs["student_buffers"]:  # the by-hand batch norm the control uses is F.batch_norm
        hand = run(case, inputs, torch.float64, "bn_by_hand")  # absolute: some references are zero (see below)
        worst = max(float((hand[k] - ref[k]).abs().max()) for k in hand)
        assert worst < 1e-12, f"{c['name']}: batch norm by hand differs from F.batch_norm by {worst}"

    controls = {}
    for name in case["controls"]:
        res = run(case, inputs, torch.float64, name)
        res.update(updates(res, inputs))
        controls[name] = res
    return case, inputs, ref, controls


# ---------------------------------------------------------------------------------------------
# Files.

DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int32: "I32"}


def write_safetensors(path, tensors, metadata):
    header, chunks, offset = {"__metadata__": metadata}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        b = t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        chunks.append(b)
        offset += len(b)
    js = json.dumps(header, separators=(",", ":"))
    js += " " * ((8 - (8 + len(js.encode())) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js.encode())))
        f.write(js.encode())
        for b in chunks:
            f.write(b)


OPTIMIZER_CONTROLS = {"other_momentum", "adamw_f32_complement"}


def main(only):
    """`only`: case names (or name prefixes) to write; the other cases' files and cases.json entries
    are kept as they are. PyTorch's float32 error, which the tolerances are made of, differs a
    little between machines (BLAS kernels, CPU), so adding cases need not move the others'."""
    assert sys.byteorder == "little"
    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    manifest = {
        "generator": "scripts/parity/make-fixtures.py",
        "torch": torch.__version__,
        "tolerance": {
            "rule": "per tensor: max |backend - float64| / max |float64| <= max(factor * max(torch_f32_error, floor), f32_bound if given)",
            "why": "torch_f32_error is PyTorch's own float32 runs of the same two steps (the worst of f32_runs: the batches as given and with their rows reordered) measured against its float64 run, per tensor: the error a correct float32 implementation makes. f32_bound (the loss only, a single number) is 2^-24 * (sum of the magnitudes the loss is computed from) / |loss|",
            "absolute": ABS_TOLERANCE,
            "absolute_rule": "and per tensor (logits, loss, gradients, optimizer state, weights, running statistics): max |backend - float64| <= absolute, except in the largeLogits cases (logits of about 100, whose float32 spacing is about 1e-5); a tensor in a case's zero_reference (zero in exact arithmetic, float64 rounding noise) is held to this bound only",
            "factor": TOLERANCE_FACTOR,
            "floor": TOLERANCE_FLOOR,
            "f32_runs": F32_RUNS,
        },
        "cases": [],
    }
    old = {}
    if only:
        with open(OUT / "cases.json") as f:
            old = {c["name"]: c for c in json.load(f)["cases"]}
    for i, c in enumerate(CASES + CNN_CASES):
        if only and not any(c["name"].startswith(o) for o in only):
            if c["name"] not in old:
                raise SystemExit(f"{c['name']}: not in cases.json yet; write it too")
            manifest["cases"].append(old[c["name"]])
            continue
        case, inputs, ref, controls = make_case(c, 1000 + i)
        tensors = {}
        for who in ("teacher", "student"):
            for name, t in inputs[who].items():
                tensors[f"{who}.{name}"] = t
            for name, t in inputs[f"{who}_buffers"].items():
                tensors[f"{who}_buffers.{name}"] = t
        for k in (1, 2):
            tensors[f"batch{k}.x"] = inputs[f"batch{k}.x"]
            tensors[f"batch{k}.y"] = inputs[f"batch{k}.y"]
        for name, t in ref.items():
            if ".update." not in name:
                tensors[name] = t
        for cname, res in controls.items():
            for name, t in res.items():
                # The optimizer state only for the optimizer's controls (it is the weights' history
                # again, and the files stay small).
                if ".update." not in name and "logits" not in name and (".state." not in name or cname in OPTIMIZER_CONTROLS):
                    tensors[f"control.{cname}.{name}"] = t
        meta = {k: v for k, v in case.items() if not k.startswith("_") and k not in ("torch_f32_error", "f32_bound", "zero_reference")}
        write_safetensors(OUT / case["file"], tensors, {"case": json.dumps(meta)})
        manifest["cases"].append({k: v for k, v in case.items() if not k.startswith("_")})
        worst = max(v for k, v in case["torch_f32_error"].items() if k not in case["zero_reference"])
        print(f"{case['name']:32s} max|logit| {case['max_abs_logit']:7.2f}  torch f32 worst rel. error {worst:.2e}")
    with open(OUT / "cases.json", "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
