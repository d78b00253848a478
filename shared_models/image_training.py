"""Training loops: a linear head on frozen backbone features, fine-tuning, and the small CNN.

Every loop reports progress through ``progress(fraction, message)`` and returns
a ``TrainingCurve`` (loss and accuracy per epoch). The ``classifier-training``
role (``image_classifier_training.py``) runs them behind a core handle.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .small_cnn import SmallCNN
from .types.vision import TrainingCurve

Progress = Callable[[float, str], None]


def no_progress(_fraction: float, _message: str) -> None:
    """The default progress callback: say nothing."""


def class_weights(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    """Inverse-frequency weights (mean 1), so an unbalanced set does not drown small classes."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    weights = np.where(counts > 0, counts.sum() / (n_classes * np.maximum(counts, 1)), 0.0)
    return torch.tensor(weights, dtype=torch.float32)


def _batch_size(n: int) -> int:
    # At least ~8 steps per epoch on small sets, at most 64 images per step.
    return int(min(64, max(4, n // 8)))


# ------------------------------------------------------------------ linear head


@dataclass
class LinearHead:
    """A linear classifier on raw backbone features: ``logits = x @ weight.T + bias``."""

    weight: torch.Tensor  # (classes, features)
    bias: torch.Tensor  # (classes,)

    def logits(self, x: np.ndarray | torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(x, dtype=torch.float32) @ self.weight.T + self.bias


def train_linear_head(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    n_classes: int,
    epochs: int,
    progress: Progress = no_progress,
    seed: int = 0,
) -> tuple[LinearHead, TrainingCurve]:
    """Softmax regression on standardised features, folded back into one linear layer.

    Standardising makes one learning rate work for any feature scale; folding
    (``W / sigma``, ``b - W mu / sigma``) gives a plain ``nn.Linear`` for the
    backbone's own classifier slot, so the saved model is an ordinary
    EfficientNet-Lite0 that the shared core serves.
    """
    torch.manual_seed(seed)
    mu = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    # Floor the scale: a feature that is (nearly) constant on a small training set would
    # otherwise be blown up by 1/std and dominate every held-out prediction.
    sigma = np.sqrt(std**2 + (0.1 * std.mean()) ** 2) + 1e-6
    xt = torch.tensor((x_train - mu) / sigma, dtype=torch.float32)
    xv = torch.tensor((x_test - mu) / sigma, dtype=torch.float32)
    yt, yv = torch.tensor(y_train), torch.tensor(y_test)
    layer = nn.Linear(xt.shape[1], n_classes)
    dropout = nn.Dropout(0.2)
    opt = torch.optim.AdamW(layer.parameters(), lr=3e-3, weight_decay=1e-2)
    weights = class_weights(y_train, n_classes)
    batch = _batch_size(len(yt))
    curve = TrainingCurve()
    for epoch in range(epochs):
        order = torch.randperm(len(yt))
        total, correct = 0.0, 0
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            out = layer(dropout(xt[idx]))
            loss = F.cross_entropy(out, yt[idx], weight=weights, label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            correct += int((out.argmax(1) == yt[idx]).sum())
        with torch.no_grad():
            held = float((layer(xv).argmax(1) == yv).float().mean()) if len(yv) else 0.0
        curve.add(total / len(yt), correct / len(yt), held)
        progress((epoch + 1) / epochs, f"head epoch {epoch + 1}/{epochs}: held-out {held:.1%}")
    with torch.no_grad():
        s, m = torch.tensor(sigma, dtype=torch.float32), torch.tensor(mu, dtype=torch.float32)
        w = layer.weight / s
        b = layer.bias - w @ m
    return LinearHead(w.detach().clone(), b.detach().clone()), curve


# ------------------------------------------------------------------ fine-tuning


def fine_tune(
    model: nn.Module,
    train_images: Sequence[torch.Tensor],
    y_train: np.ndarray,
    test_images: Sequence[torch.Tensor],
    y_test: np.ndarray,
    n_classes: int,
    epochs: int,
    augment: Callable[[torch.Tensor], torch.Tensor],
    to_input: Callable[[torch.Tensor], torch.Tensor],
    progress: Progress = no_progress,
    trainable_blocks: int = 4,
    seed: int = 0,
) -> TrainingCurve:
    """Fine-tune the last ``trainable_blocks`` MBConv blocks, the head conv and ``_fc`` in place.

    Batch-norm layers stay in eval mode: with a handful of images per step their
    batch statistics would be noise, and ImageNet's running statistics are good.
    Images are uint8 (3, H, W) tensors, kept small in memory; ``augment`` alters
    one at random and ``to_input`` turns a batch into the model's input.
    """
    torch.manual_seed(seed)
    for p in model.parameters():
        p.requires_grad_(False)
    trainable: list[nn.Module] = [*model._blocks[-trainable_blocks:], model._conv_head, model._fc]
    params = [p for m in trainable for p in m.parameters()]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(
        [
            {"params": [p for m in trainable[:-1] for p in m.parameters()], "lr": 1e-4},
            {"params": list(model._fc.parameters()), "lr": 1e-3},
        ],
        weight_decay=1e-4,
    )
    weights = class_weights(y_train, n_classes)
    yt = torch.tensor(y_train)
    batch = min(16, _batch_size(len(yt)))
    steps = math.ceil(len(yt) / batch)
    curve = TrainingCurve()
    for epoch in range(epochs):
        model.eval()  # BN frozen (see docstring); dropout off is fine for a short fine-tune
        order = torch.randperm(len(yt))
        total, correct = 0.0, 0
        for step, start in enumerate(range(0, len(order), batch)):
            idx = order[start : start + batch]
            x = to_input(torch.stack([augment(train_images[int(i)]) for i in idx]))
            out = model(x)
            loss = F.cross_entropy(out, yt[idx], weight=weights, label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            correct += int((out.argmax(1) == yt[idx]).sum())
            progress(
                (epoch + (step + 1) / steps) / epochs,
                f"fine-tuning epoch {epoch + 1}/{epochs}, step {step + 1}/{steps}",
            )
        pred = predict_tensors(model, test_images, to_input)
        held = float((pred == y_test).mean()) if len(y_test) else 0.0
        curve.add(total / len(yt), correct / len(yt), held)
    for p in model.parameters():
        p.requires_grad_(False)
    return curve


def predict_tensors(
    model: nn.Module,
    images: Sequence[torch.Tensor],
    to_input: Callable[[torch.Tensor], torch.Tensor],
    batch: int = 32,
) -> np.ndarray:
    """Arg-max class of each image tensor (``to_input`` prepares a stacked batch)."""
    model.eval()
    preds = []
    with torch.inference_mode():
        for start in range(0, len(images), batch):
            x = to_input(torch.stack(list(images[start : start + batch])))
            preds.append(model(x).argmax(1))
    return torch.cat(preds).numpy() if preds else np.zeros(0, dtype=np.int64)


# ------------------------------------------------------------------ small CNN


def cnn_input(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W) -> float (N, 1, H, W) in [-1, 1], as the serving transform makes it."""
    return torch.from_numpy(images).float().div_(127.5).sub_(1.0).unsqueeze(1)


def _augment_batch(x: torch.Tensor, rng: np.random.Generator, shift: int = 1) -> torch.Tensor:
    """Random horizontal flips and shifts of up to ``shift`` pixels (padding with background)."""
    n, _, h, w = x.shape
    flip = torch.from_numpy(rng.random(n) < 0.5)
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    padded = F.pad(x, (shift, shift, shift, shift), value=-1.0)
    dx, dy = rng.integers(0, 2 * shift + 1, n), rng.integers(0, 2 * shift + 1, n)
    return torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)])


def train_small_cnn(
    train_images: np.ndarray,
    y_train: np.ndarray,
    test_images: np.ndarray,
    y_test: np.ndarray,
    n_classes: int,
    epochs: int,
    progress: Progress = no_progress,
    batch_size: int = 128,
    max_lr: float = 4e-3,
    seed: int = 0,
) -> tuple[SmallCNN, TrainingCurve]:
    """Train ``SmallCNN`` from scratch on 28 x 28 greyscale images with a one-cycle schedule."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = SmallCNN(n_classes).to(memory_format=torch.channels_last)
    xt, yt = cnn_input(train_images), torch.tensor(y_train)
    xv = cnn_input(test_images)
    batch_size = min(batch_size, _batch_size(len(yt)) * 2) if len(yt) < 16 * batch_size else batch_size
    steps = math.ceil(len(yt) / batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=max_lr, weight_decay=5e-4)
    total = epochs * steps
    if total >= 3:
        # OneCycleLR divides by its warm-up length (pct_start * total - 1 steps): on a
        # short run (1 epoch of a few hundred images) 25% of it is one step or none.
        sched: torch.optim.lr_scheduler.LRScheduler = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=max_lr, total_steps=total, pct_start=max(0.25, 2.0 / total)
        )
    else:  # one or two steps: no schedule to speak of
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _step: 1.0)
    weights = class_weights(y_train, n_classes)
    curve = TrainingCurve()
    started = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.from_numpy(rng.permutation(len(yt)))
        total, correct = 0.0, 0
        for step in range(steps):
            idx = order[step * batch_size : (step + 1) * batch_size]
            if len(idx) < 2:  # batch norm needs two samples
                continue
            x = _augment_batch(xt[idx], rng).contiguous(memory_format=torch.channels_last)
            out = model(x)
            loss = F.cross_entropy(out, yt[idx], weight=weights, label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            correct += int((out.argmax(1) == yt[idx]).sum())
            if step % 20 == 0 or step == steps - 1:
                elapsed = time.perf_counter() - started
                progress(
                    (epoch + (step + 1) / steps) / epochs,
                    f"CNN epoch {epoch + 1}/{epochs}, step {step + 1}/{steps} ({elapsed:.0f} s)",
                )
        pred = predict_cnn(model, xv)
        held = float((pred == y_test).mean()) if len(y_test) else 0.0
        curve.add(total / len(yt), correct / len(yt), held)
    return model.eval(), curve


def predict_cnn(model: nn.Module, x: torch.Tensor, batch: int = 512) -> np.ndarray:
    """Arg-max class for preprocessed (N, 1, 28, 28) inputs."""
    model.eval()
    with torch.inference_mode():
        out = [
            model(x[i : i + batch].contiguous(memory_format=torch.channels_last)).argmax(1)
            for i in range(0, len(x), batch)
        ]
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.int64)
