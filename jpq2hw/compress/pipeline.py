"""The two-stage pipeline (prune, then quantize) and the baselines, as a list of resumable steps.

A run is a plan: a list of named steps (`prune_3`, `calibrate`, `qat_2`, ...). After each step the
model, optimizer, history and RNG state are written to `<checkpoint_dir>/checkpoint.pt` (atomically),
so an interrupted run resumes at the first step not done and ends with the same weights.

Fine-tuning modes (config.finetune), all on the same epoch budget:
  masked  stage 1: masks fixed between pruning steps; stage 2: QAT with masks held.
  regrow  stage 1: masks recomputed from the Taylor score every `regrow_interval` batches while
          fine-tuning (pruned weights keep a latent value and can come back; the sparsity holds);
          stage 2: QAT with masks held.
  qat     stage 1 as masked; stage 2: QAT with the quantizers in the loop and the masks recomputed
          from the Taylor score of the quantized weights (the paper-style joint mode), the last
          QAT epoch with masks held.
Baselines (config.method): magnitude (|w| score), quantize_then_prune (dense QAT first, then
pruning with the quantizers on), ptq (stage 1, then calibrate and quantize without fine-tuning).
"""

from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

from jpq2hw.compress import masks as masklib
from jpq2hw.compress.config import CompressConfig
from jpq2hw.compress.qmodules import (QuantModel, act_quantizers, prepare_model, set_mask_ste,
                                      set_quant_enabled)
from jpq2hw.compress.schedule import sparsity_targets
from jpq2hw.compress.survivors import channel_dims, check_dead_channels, survivors
from jpq2hw.compress.taylor import (TaylorAccumulator, magnitude_scores, random_scores, regrow_masks,
                                   select_layer_masks, taylor_scores)
from jpq2hw.errors import JpqError

CHECKPOINT_NAME = "checkpoint.pt"
# Written into every checkpoint folder we use: `--fresh` deletes checkpoint files only where it finds this marker
# (a checkpoint_dir may name a folder that holds other things; jpq2hw deletes only what it provably wrote).
MARKER_NAME = ".jpq2hw-checkpoints"
OWN_FILES = (CHECKPOINT_NAME, Path(CHECKPOINT_NAME).with_suffix(".tmp").name, MARKER_NAME)


def mark_checkpoint_dir(folder: Path) -> None:
    marker = folder / MARKER_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not marker.exists():
            marker.write_text(f"jpq2hw compress checkpoints ({', '.join(OWN_FILES[:2])}); "
                              "`jpq2hw compress --fresh` deletes only these files here\n")
    except OSError as exc:
        raise JpqError(f"checkpoint_dir {folder}: cannot write there ({exc.strerror})") from None


def remove_checkpoints(folder: Path) -> list[Path]:
    """What `--fresh` deletes: our own files in `folder`, and only when our marker is there. Returns them."""
    folder = Path(folder)
    if not folder.exists():
        return []
    if not folder.is_dir():
        raise JpqError(f"checkpoint_dir {folder}: not a folder")
    ours = [folder / name for name in OWN_FILES if (folder / name).exists()]
    if not (folder / MARKER_NAME).is_file():
        if (folder / CHECKPOINT_NAME).exists():
            raise JpqError(f"checkpoint_dir {folder}: --fresh deletes only checkpoints jpq2hw wrote, and this folder "
                           f"has no {MARKER_NAME} marker; nothing was deleted (remove {CHECKPOINT_NAME} yourself)")
        return []
    for path in ours:
        path.unlink()
    return ours


@dataclass
class Step:
    key: str
    stage: str            # pretrain | prune | calibrate | qat
    target: float         # sparsity target after the step
    epochs: int = 0
    quantized: bool = False
    regrow: bool = False  # masks recomputed during this step's fine-tuning


def make_plan(config: CompressConfig) -> list[Step]:
    plan = []
    if config.pretrain_epochs:
        plan.append(Step("pretrain", "pretrain", 0.0, config.pretrain_epochs))
    targets = sparsity_targets(config.schedule, config.target_sparsity, config.prune_steps)

    def prune_steps(quantized: bool):
        regrow = config.finetune == "regrow" and not quantized
        return [Step(f"prune_{i + 1}", "prune", s, config.epochs_per_step, quantized, regrow)
                for i, s in enumerate(targets)]

    def qat_steps(target: float):
        steps = []
        for i in range(config.qat_epochs):
            last = i == config.qat_epochs - 1
            regrow = config.finetune == "qat" and not last and target > 0
            steps.append(Step(f"qat_{i + 1}", "qat", target, 1, True, regrow))
        return steps

    if config.order == "quantize_then_prune":
        plan.append(Step("calibrate", "calibrate", 0.0, quantized=True))
        plan += qat_steps(0.0)
        plan += prune_steps(quantized=True)
    else:
        plan += prune_steps(quantized=False)
        plan.append(Step("calibrate", "calibrate", config.target_sparsity, quantized=True))
        if not config.ptq:
            plan += qat_steps(config.target_sparsity)
    return plan


@dataclass
class RunState:
    model: QuantModel
    config: CompressConfig
    optimizer: torch.optim.Optimizer | None = None
    optimizer_lr: float | None = None
    done: list = field(default_factory=list)
    history: list = field(default_factory=list)
    teacher: nn.Module | None = None  # the float parent, for distillation (config.distill > 0)

    def optimizer_for(self, lr: float) -> torch.optim.Optimizer:
        # one Adam per learning-rate phase; its state survives across steps (and checkpoints)
        if self.optimizer is None or self.optimizer_lr != lr:
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=lr)
            self.optimizer_lr = lr
        return self.optimizer


def _scores(state: RunState, loader, loss_fn, quantized: bool):
    cfg = state.config
    if cfg.score == "magnitude":
        return magnitude_scores(state.model, quantized)
    if cfg.score == "random":
        return random_scores(state.model)
    taylor = taylor_scores(state.model, loader, loss_fn, cfg.score_batches, quantized)
    # ties at exactly 0 (a channel whose ReLU never fires has no gradient) are broken by magnitude, so a
    # per-channel floor keeps a weight that is there rather than one already pruned to 0
    magnitude = magnitude_scores(state.model, quantized)
    top = max((float(s.max()) for s in taylor.values() if s.numel()), default=0.0) or 1.0
    return {n: s + 1e-9 * top * magnitude[n] / magnitude[n].max().clamp_min(1e-30) for n, s in taylor.items()}


def _distill_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) over dim 1 (classes, or disparity bins of a dense output), scaled by T^2."""
    t = temperature
    log_p = torch.nn.functional.log_softmax(student / t, 1)
    q = torch.nn.functional.softmax(teacher / t, 1)
    return (q * (torch.log(q.clamp_min(1e-12)) - log_p)).sum(1).mean() * t * t


def _phase_progress(step: Step, cfg: CompressConfig, epoch: int, batch: int, batches: int) -> float:
    """Where this batch sits in its learning-rate phase, 0..1: a pruning step is its own phase (the rate is
    rewound after every pruning step), the QAT epochs together are one phase."""
    within = (epoch + batch / max(batches, 1)) / max(step.epochs, 1)
    if step.stage == "qat" and step.key.startswith("qat_") and cfg.qat_epochs:
        return (int(step.key.split("_")[1]) - 1 + within) / cfg.qat_epochs
    return within


def _train_epochs(state: RunState, step: Step, loader, loss_fn, lr: float) -> None:
    model, cfg = state.model, state.config
    optimizer = state.optimizer_for(lr)
    set_mask_ste(model, step.regrow)
    model.train()
    dims = channel_dims(model)
    acc = TaylorAccumulator(model, quantized=step.quantized) if step.regrow else None
    batches = len(loader) if hasattr(loader, "__len__") else 0
    for epoch in range(step.epochs):
        for index, (x, y) in enumerate(loader):
            if cfg.lr_schedule == "cosine":
                progress = _phase_progress(step, cfg, epoch, index, batches)
                for group in optimizer.param_groups:
                    group["lr"] = lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))
            optimizer.zero_grad(set_to_none=True)
            out = model(x)
            loss = loss_fn(out, y)
            if state.teacher is not None:
                with torch.no_grad():
                    target = state.teacher(x)
                loss = (1 - cfg.distill) * loss + cfg.distill * _distill_loss(out, target, cfg.distill_temperature)
            loss.backward()
            if acc is not None:
                acc.add()
                if acc.batches % cfg.regrow_interval == 0:
                    scores = (acc.scores() if cfg.score == "taylor"
                              else random_scores(model) if cfg.score == "random"
                              else magnitude_scores(model, step.quantized))
                    before = masklib.get_masks(model)
                    after = regrow_masks(before, scores, cfg.regrow_fraction, cfg.min_kept_per_channel, dims)
                    masklib.set_masks(model, after)
                    # a regrown weight restarts from 0 (its latent value never met the loss: no shock)
                    masklib.zero_regrown(model, optimizer, before)
                    acc = TaylorAccumulator(model, quantized=step.quantized)
            optimizer.step()
            if acc is None:
                masklib.enforce(model)
    # leave every step with pruned weights at exactly zero, whatever the mode
    set_mask_ste(model, False)
    masklib.enforce(model)
    masklib.mask_optimizer_state(model, optimizer)


def _calibrate(model: QuantModel, loader, batches: int) -> None:
    """Activation ranges from float activations (quantizers off), then quantization on."""
    set_quant_enabled(model, False)
    quantizers = act_quantizers(model).values()
    for q in quantizers:
        q.running_max.zero_()
        q.calibrating = True
    model.eval()
    with torch.no_grad():
        seen = 0
        while seen < batches:
            for x, _ in loader:
                model(x)
                seen += 1
                if seen >= batches:
                    break
    for q in quantizers:
        q.calibrating = False
    set_quant_enabled(model, True)


def run_step(state: RunState, step: Step, loader, loss_fn) -> None:
    model, cfg = state.model, state.config
    set_quant_enabled(model, step.quantized)
    if step.stage == "pretrain":
        _train_epochs(state, step, loader, loss_fn, cfg.lr)
    elif step.stage == "prune":
        scores = _scores(state, loader, loss_fn, step.quantized)
        # config names are the user's; inside the wrapped model they sit under `net.`
        fraction = step.target / cfg.target_sparsity if cfg.target_sparsity > 0 else 1.0
        masks = select_layer_masks(scores, step.target, cfg.min_kept_per_layer,
                                   {f"net.{n}": v for n, v in cfg.layer_sparsity.items()},
                                   {f"net.{n}" for n in cfg.exclude}, cfg.prune_criterion, fraction,
                                   cfg.min_kept_per_channel, channel_dims(model))
        masklib.set_masks(model, masks)
        masklib.enforce(model)
        if state.optimizer is not None:
            masklib.mask_optimizer_state(model, state.optimizer)
        lr = cfg.qat_learning_rate if step.quantized else cfg.lr
        _train_epochs(state, step, loader, loss_fn, lr)
    elif step.stage == "calibrate":
        _calibrate(model, loader, cfg.calibration_batches)
    elif step.stage == "qat":
        _train_epochs(state, step, loader, loss_fn, cfg.qat_learning_rate)
    model.eval()


def _frozen_teacher(model: nn.Module) -> nn.Module:
    """A frozen copy of the float parent giving the same kind of output the loss sees in training (training mode,
    e.g. per-bin scores of a stereo head), with BatchNorm and Dropout in eval mode."""
    teacher = copy.deepcopy(model)
    teacher.train()
    for m in teacher.modules():
        if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd)):
            m.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


# ---- checkpoints -------------------------------------------------------------------------------

def _save(state: RunState, path: Path, quantized: bool) -> None:
    payload = {
        "config": state.config.to_dict(),
        "done": state.done,
        "history": state.history,
        "model": state.model.state_dict(),
        "optimizer": state.optimizer.state_dict() if state.optimizer else None,
        "optimizer_lr": state.optimizer_lr,
        "quantized": quantized,
        "rng": torch.get_rng_state(),
    }
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)  # atomic: an interruption never leaves a half-written checkpoint


def _load(state: RunState, path: Path) -> None:
    try:
        payload = torch.load(path, weights_only=False)
    except Exception as exc:
        raise JpqError(f"{path}: unreadable checkpoint ({str(exc).splitlines()[0]}); delete it to start over") from None
    if payload["config"] != state.config.to_dict():
        raise JpqError(f"{path}: checkpoint was made with a different config; rerun with --fresh to start over "
                       f"(or change checkpoint_dir)")
    try:
        state.model.load_state_dict(payload["model"])
        if payload["optimizer"] is not None:
            state.optimizer_for(payload["optimizer_lr"]).load_state_dict(payload["optimizer"])
    except (RuntimeError, ValueError, KeyError):
        raise JpqError(f"{path}: checkpoint was made from a different model (its layers do not match); rerun with "
                       f"--fresh to start over (or change checkpoint_dir)") from None
    state.done = list(payload["done"])
    state.history = list(payload["history"])
    set_quant_enabled(state.model, payload["quantized"])
    torch.set_rng_state(payload["rng"])


# ---- entry point -------------------------------------------------------------------------------

def compress(model: nn.Module, train_loader, val_fn, config: CompressConfig | None = None, loss_fn=None,
             progress=None, on_step_done=None):
    """Prune and quantize `model`; returns (quantized model, history).

    `model` is a float torch model (its Conv2d/Linear/ConvTranspose2d/ReLU modules are swapped in
    place for quantized twins) or a model already made by `prepare_model`. `val_fn(model)` returns
    a number (e.g. accuracy) recorded after each step. `on_step_done(key)` is called after each
    checkpoint (tests use it to simulate an interruption)."""
    config = config or CompressConfig()
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    torch.manual_seed(config.seed)
    teacher = None
    if config.distill > 0:
        if isinstance(model, QuantModel):
            raise JpqError("compress config: distill needs the float model (not one prepare_model already made)")
        teacher = _frozen_teacher(model)
    if isinstance(model, QuantModel):
        qmodel = model
    else:  # every layer is checked here, before the first epoch
        try:
            example = next(iter(train_loader))[0][:1]
        except StopIteration:
            raise JpqError("the training loader yields no batches") from None
        qmodel = prepare_model(model, config, example)
    state = RunState(qmodel, config, teacher=teacher)
    plan = make_plan(config)
    ckpt = None
    if config.checkpoint_dir:
        ckpt = Path(config.checkpoint_dir) / CHECKPOINT_NAME
        mark_checkpoint_dir(ckpt.parent)
        if ckpt.exists():
            _load(state, ckpt)
            if progress and state.done:
                progress.info(f"resuming from {ckpt}: {len(state.done)}/{len(plan)} steps done")
    for index, step in enumerate(plan):
        if step.key in state.done:
            continue
        start = time.perf_counter()
        run_step(state, step, train_loader, loss_fn)
        layers = survivors(qmodel)
        record = {"step": step.key, "stage": step.stage, "target_sparsity": round(step.target, 6),
                  "sparsity": masklib.sparsity(qmodel), "quantized": step.quantized,
                  "val": val_fn(qmodel) if val_fn else None, "seconds": time.perf_counter() - start,
                  "layers": layers}
        state.history.append(record)
        state.done.append(step.key)
        if ckpt:
            _save(state, ckpt, step.quantized)
        if progress:
            val = f"{record['val']:.4f}" if isinstance(record["val"], float) else record["val"]
            progress.info(f"[{index + 1}/{len(plan)}] {step.key}: sparsity {record['sparsity']:.4f} "
                          f"val {val} ({record['seconds']:.1f} s)")
        if on_step_done:
            on_step_done(step.key)
    # on the result only: a channel the quantizer rounds to 0 at calibration can come back in QAT (the history
    # records every step's survivors)
    check_dead_channels(survivors(qmodel), config.allow_dead_channels, plan[-1].key if plan else "none")
    qmodel.eval()
    return qmodel, state.history
