"""EfficientNet-Lite0 as a plain ``nn.Module`` whose parameter names match the bundled checkpoint.

EfficientNet-Lite is EfficientNet-B0 made friendly to quantisation and mobile
accelerators: no squeeze-and-excitation, ReLU6 instead of swish, and a stem (32
channels) and head (1280 channels) that are not scaled with the width
multiplier. The module names (``_conv_stem``, ``_blocks.N._expand_conv``, ``_fc``,
...) follow lukemelas' EfficientNet-PyTorch, which is the layout of the
``efficientnet-lite0-57934424.pth`` checkpoint, so it loads with ``strict=True``.

The weights were trained in TensorFlow, whose "SAME" padding puts the extra
pixel of a stride-2 convolution on the bottom/right. PyTorch's symmetric padding
would shift every feature map by one pixel, so stride-2 convolutions pad
explicitly in ``forward``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-3  # TensorFlow's batch-norm epsilon, which the weights were trained with
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280


@dataclass(frozen=True)
class StageSpec:
    """One stage of MBConv blocks: the first block may stride, the rest keep the size."""

    repeats: int
    kernel: int
    stride: int
    expand: int
    in_channels: int
    out_channels: int


# EfficientNet-B0's stages (width and depth multipliers are 1.0 for Lite0).
LITE0_STAGES: tuple[StageSpec, ...] = (
    StageSpec(1, 3, 1, 1, 32, 16),
    StageSpec(2, 3, 2, 6, 16, 24),
    StageSpec(2, 5, 2, 6, 24, 40),
    StageSpec(3, 3, 2, 6, 40, 80),
    StageSpec(3, 5, 1, 6, 80, 112),
    StageSpec(4, 5, 2, 6, 112, 192),
    StageSpec(1, 3, 1, 6, 192, 320),
)


class SameConv2d(nn.Conv2d):
    """A bias-free convolution with TensorFlow "SAME" padding (output = ceil(input / stride))."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel: int, stride: int = 1, groups: int = 1
    ) -> None:
        # Stride 1 with an odd kernel pads symmetrically, so PyTorch's own padding is exact.
        padding = kernel // 2 if stride == 1 else 0
        super().__init__(
            in_channels, out_channels, kernel, stride, padding=padding, groups=groups, bias=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride[0] > 1:
            x = F.pad(x, _same_padding(x.shape[-2:], self.kernel_size[0], self.stride[0]))
        return super().forward(x)


def _same_padding(hw: tuple[int, ...] | torch.Size, kernel: int, stride: int) -> list[int]:
    """(left, right, top, bottom) padding that TensorFlow's "SAME" mode would use."""
    pads: list[int] = []
    for size in (hw[1], hw[0]):  # F.pad wants the last dimension (width) first
        out = math.ceil(size / stride)
        total = max((out - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return pads


class MBConvBlock(nn.Module):
    """Inverted residual block: 1x1 expand, depthwise k x k, 1x1 project (no SE in Lite)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = in_ch * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(in_ch, mid, 1)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride, groups=mid)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = SameConv2d(mid, out_ch, 1)
        self._bn2 = nn.BatchNorm2d(out_ch, eps=BN_EPS)
        self.act = nn.ReLU6(inplace=True)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs
        if self.has_expand:
            x = self.act(self._bn0(self._expand_conv(x)))
        x = self.act(self._bn1(self._depthwise_conv(x)))
        x = self._bn2(self._project_conv(x))  # linear bottleneck: no activation here
        # Drop-connect only matters in training; at inference the skip is a plain add.
        return x + inputs if self.residual else x


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0: 224x224 RGB normalised to [-1, 1] in, ImageNet-1k logits out."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, STEM_CHANNELS, 3, stride=2)
        self._bn0 = nn.BatchNorm2d(STEM_CHANNELS, eps=BN_EPS)
        blocks: list[nn.Module] = []
        for stage in LITE0_STAGES:
            in_ch, stride = stage.in_channels, stage.stride
            for _ in range(stage.repeats):
                blocks.append(
                    MBConvBlock(in_ch, stage.out_channels, stage.kernel, stride, stage.expand)
                )
                in_ch, stride = stage.out_channels, 1
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(LITE0_STAGES[-1].out_channels, HEAD_CHANNELS, 1)
        self._bn1 = nn.BatchNorm2d(HEAD_CHANNELS, eps=BN_EPS)
        self.act = nn.ReLU6(inplace=True)
        # The head's activation is a module of its own so that Grad-CAM can hook the last
        # feature map (grad_cam.CAM_LAYERS); it has no weights, so checkpoints are unchanged.
        self._head_act = nn.ReLU6(inplace=True)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(HEAD_CHANNELS, num_classes)
        self.num_features = HEAD_CHANNELS

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The last convolutional feature map, (N, 1280, H/32, W/32)."""
        x = self.act(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return self._head_act(self._bn1(self._conv_head(x)))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled 1280-d embedding (N, 1280): input to the classifier, useful for transfer."""
        return self.feature_map(x).mean(dim=(2, 3))

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (N, num_classes) and pooled features (N, 1280) from one pass."""
        feats = self.features(x)
        return self._fc(self._dropout(feats)), feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, num_classes)."""
        return self.forward_with_features(x)[0]


def load_efficientnet_lite0(path: str | Path) -> EfficientNetLite0:
    """Build the model and load a lukemelas-layout checkpoint with every key matched.

    ``weights_only=True`` makes ``torch.load`` refuse anything but tensors and
    plain containers, so a tampered checkpoint cannot run code.
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    num_classes = int(state["_fc.weight"].shape[0])
    model = EfficientNetLite0(num_classes=num_classes)
    model.load_state_dict(state, strict=True)
    return model.eval()
