"""Grad-CAM: which part of the image made a classifier choose a class.

Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
Gradient-based Localization", ICCV 2017, arXiv:1610.02391) weights each channel
of the last convolutional feature map ``A`` by the mean gradient of the class
score over it, ``alpha_c = mean_ij d y / d A_cij``, and keeps the positive part of
the weighted sum, ``ReLU(sum_c alpha_c A_c)``: a coarse map (7 x 7 for a 224-pixel
input) of the places whose features raised that class's logit.

Why our own ~60 lines and not the ``grad-cam`` (pytorch-grad-cam) or ``captum``
package: ``grad-cam`` pulls in OpenCV and ``ttach``, ``captum`` is a large
framework, and adding either changes the locked environment; plain forward hooks
and ``torch.autograd.grad`` are all the method needs.

The layer is chosen per architecture, explicitly (``CAM_LAYERS``), not guessed:
it is the last layer whose output still has spatial positions, after its
activation, the choice the paper and the libraries make.
"""

from __future__ import annotations

import torch
from torch import nn

# Model class name -> dotted path of the layer whose output Grad-CAM weights.
CAM_LAYERS: dict[str, str] = {
    # Ours: the head convolution's ReLU6 (1280 x 7 x 7), a module of its own for this.
    "EfficientNetLite0": "_head_act",
    # Ours: the last conv stage's ReLU, before its max-pool (128 x 7 x 7 for 28 x 28 input).
    "SmallCNN": "features.11",
    # torchvision: the last stage of the convolutional trunk.
    "ResNet": "layer4",  # resnet*, resnext*, wide_resnet*
    "RegNet": "trunk_output",
    "MobileNetV2": "features",
    "MobileNetV3": "features",
    "EfficientNet": "features",  # efficientnet_b*, efficientnet_v2_*
    "ConvNeXt": "features",
    "DenseNet": "features",
    "MNASNet": "layers",
    "ShuffleNetV2": "conv5",
    "VGG": "features",
    "AlexNet": "features",
}


def cam_layer(model: nn.Module) -> nn.Module | None:
    """The layer Grad-CAM hooks for this model, or ``None`` if the architecture has no entry."""
    path = CAM_LAYERS.get(type(model).__name__)
    return model.get_submodule(path) if path is not None else None


def grad_cam(
    model: nn.Module, layer: nn.Module, x: torch.Tensor, targets: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Class scores and Grad-CAM maps for a batch.

    ``x``: the preprocessed batch (N, C, H, W); ``targets``: the class index to
    explain per row, or ``None`` for each row's top class. Returns ``(logits,
    targets, maps)``: float32 logits (N, classes), the explained classes (N,), and
    maps (N, h, w) on the CPU in [0, 1], each scaled so its maximum is 1 (all zeros
    when no position raised the score). Rows are independent: the model must be in
    eval mode (batch norm uses its running statistics).
    """
    captured: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda _m, _args, out: captured.append(out))
    try:
        # The serving path runs under inference_mode; this one call needs a graph.
        with torch.inference_mode(False), torch.enable_grad():
            # A leaf that requires grad makes every activation part of the graph, even
            # for a model whose parameters are frozen.
            x = x.detach().clone().requires_grad_(True)
            logits = model(x)
            if not captured:
                raise RuntimeError(f"{type(layer).__name__} did not run in the forward pass.")
            acts = captured[-1]
            if targets is None:
                targets = logits.detach().argmax(dim=1)
            targets = targets.to(logits.device)
            # Rows are independent, so the gradient of the sum is each row's own gradient.
            score = logits.gather(1, targets[:, None]).sum()
            # Only the path back to the hooked layer: no parameter gradients are made.
            (grads,) = torch.autograd.grad(score, acts)
    finally:
        hook.remove()
    acts, grads = acts.detach().float(), grads.float()
    weights = grads.mean(dim=(2, 3), keepdim=True)  # alpha_c: global-average-pooled gradients
    cam = (weights * acts).sum(dim=1).clamp(min=0)  # ReLU: only evidence *for* the class
    peak = cam.amax(dim=(1, 2), keepdim=True)
    cam = torch.where(peak > 0, cam / peak.clamp(min=torch.finfo(cam.dtype).tiny), cam)
    return logits.detach().float(), targets.detach().cpu(), cam.cpu()
