"""A small darknet reader: ``.cfg`` -> ``nn.Module``, ``.weights`` -> its parameters, YOLO decoding.

Supports the layer types YOLOv3-tiny uses: ``convolutional`` (with or without
batch norm; leaky or linear), ``maxpool`` (including size 2 / stride 1, which
darknet pads on the bottom/right only), ``route``, ``upsample`` and ``yolo``.

The ``.weights`` format: a header of three int32 (major, minor, revision) and
the "images seen" counter (int64 from version 0.2 on, int32 before), then
float32 parameters in layer order. A convolution with batch norm stores the
BN bias (beta), BN scale (gamma), running mean, running variance, then the
convolution weights; one without batch norm stores its bias, then its weights.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# Darknet's normalisation adds .000001 to sqrt(variance); eps=1e-5 inside the
# square root differs from that by far less than the weights' own precision.
BN_EPS = 1e-5
LEAKY_SLOPE = 0.1


@dataclass
class Section:
    """One ``[type]`` block of a darknet ``.cfg`` file, options as raw strings."""

    type: str
    options: dict[str, str]

    def get_int(self, key: str, default: int | None = None) -> int:
        """An integer option (``default`` if absent; KeyError if absent and no default)."""
        if key not in self.options:
            if default is None:
                raise KeyError(f"[{self.type}] has no '{key}'")
            return default
        return int(self.options[key])

    def get_ints(self, key: str) -> list[int]:
        """A comma-separated integer list option."""
        return [int(v) for v in self.options[key].split(",") if v.strip()]


def parse_cfg(text: str) -> list[Section]:
    """Parse darknet ``.cfg`` text into sections, in file order (``[net]`` first)."""
    sections: list[Section] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if match := re.fullmatch(r"\[(\w+)\]", line):
            sections.append(Section(match.group(1), {}))
        elif "=" in line and sections:
            key, value = line.split("=", 1)
            sections[-1].options[key.strip()] = value.strip()
        else:
            raise ValueError(f"Unreadable line in darknet cfg: {raw!r}")
    if not sections or sections[0].type not in ("net", "network"):
        raise ValueError("A darknet cfg must start with a [net] section.")
    return sections


class ConvLayer(nn.Module):
    """Darknet convolution: conv, optional batch norm (then no conv bias), leaky or linear."""

    def __init__(self, in_ch: int, section: Section) -> None:
        super().__init__()
        self.bn_enabled = section.get_int("batch_normalize", 0) == 1
        size, stride = section.get_int("size"), section.get_int("stride", 1)
        pad = size // 2 if section.get_int("pad", 0) else section.get_int("padding", 0)
        self.out_channels = section.get_int("filters")
        self.conv = nn.Conv2d(in_ch, self.out_channels, size, stride, pad, bias=not self.bn_enabled)
        self.bn = nn.BatchNorm2d(self.out_channels, eps=BN_EPS) if self.bn_enabled else None
        activation = section.options.get("activation", "linear")
        if activation not in ("leaky", "linear"):
            raise ValueError(f"Unsupported darknet activation '{activation}'.")
        self.leaky = activation == "leaky"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return F.leaky_relu(x, LEAKY_SLOPE, inplace=True) if self.leaky else x


class MaxPoolLayer(nn.Module):
    """Darknet max-pool: padding ``size - 1`` split as darknet does (extra on bottom/right).

    With size 2 / stride 1 this keeps the spatial size (13 -> 13), which a
    symmetric PyTorch pool cannot do. Padding is -inf so it never wins the max.
    """

    def __init__(self, section: Section) -> None:
        super().__init__()
        self.size = section.get_int("size")
        self.stride = section.get_int("stride", 1)
        total = section.get_int("padding", self.size - 1)
        self.pad = (total // 2, total - total // 2) * 2  # (left, right, top, bottom)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(self.pad):
            x = F.pad(x, self.pad, value=float("-inf"))
        return F.max_pool2d(x, self.size, self.stride)


class YoloLayer(nn.Module):
    """A YOLO head: keeps its anchors and turns a raw (N, A*(5+C), H, W) map into boxes."""

    def __init__(self, section: Section) -> None:
        super().__init__()
        pairs = section.get_ints("anchors")
        all_anchors = list(zip(pairs[0::2], pairs[1::2], strict=True))
        mask = section.get_ints("mask") if "mask" in section.options else range(len(all_anchors))
        self.num_classes = section.get_int("classes")
        self.register_buffer(
            "anchors",
            torch.tensor([all_anchors[i] for i in mask], dtype=torch.float32),
            persistent=False,
        )

    def decode(self, raw: torch.Tensor, input_hw: tuple[int, int]) -> torch.Tensor:
        """(N, A*H*W, 4 + 1 + C) float32: box x0, y0, x1, y1 in input pixels, objectness, class probs.

        Centre: (sigmoid(t) + cell offset) * stride. Size: exp(t) * anchor, anchors
        being in pixels of the network input. Probabilities: sigmoid.
        """
        n, _, h, w = raw.shape
        a = self.anchors.shape[0]
        p = raw.float().reshape(n, a, 5 + self.num_classes, h, w).permute(0, 1, 3, 4, 2)
        ys, xs = torch.meshgrid(
            torch.arange(h, device=raw.device, dtype=torch.float32),
            torch.arange(w, device=raw.device, dtype=torch.float32),
            indexing="ij",
        )
        cx = (p[..., 0].sigmoid() + xs) * (input_hw[1] / w)
        cy = (p[..., 1].sigmoid() + ys) * (input_hw[0] / h)
        anchors = self.anchors.to(raw.device).view(1, a, 1, 1, 2)
        half_w = p[..., 2].exp() * anchors[..., 0] / 2
        half_h = p[..., 3].exp() * anchors[..., 1] / 2
        boxes = torch.stack((cx - half_w, cy - half_h, cx + half_w, cy + half_h), dim=-1)
        out = torch.cat((boxes, p[..., 4:].sigmoid()), dim=-1)
        return out.reshape(n, -1, 5 + self.num_classes)


class Darknet(nn.Module):
    """A network built from a parsed darknet cfg.

    ``forward`` returns the raw map of each ``[yolo]`` layer, in cfg order;
    ``decode`` turns those maps into boxes and scores.
    """

    def __init__(self, sections: list[Section]) -> None:
        super().__init__()
        net, body = sections[0], sections[1:]
        self.width, self.height = net.get_int("width", 416), net.get_int("height", 416)
        self.layers = nn.ModuleList()
        self.routes: dict[int, list[int]] = {}  # layer index -> absolute source layers
        channels: list[int] = []
        in_ch = net.get_int("channels", 3)
        for i, section in enumerate(body):
            layer: nn.Module
            if section.type == "convolutional":
                layer = ConvLayer(in_ch, section)
                out_ch = layer.out_channels
            elif section.type == "maxpool":
                layer, out_ch = MaxPoolLayer(section), in_ch
            elif section.type == "upsample":
                layer, out_ch = (
                    nn.Upsample(scale_factor=section.get_int("stride", 2), mode="nearest"),
                    in_ch,
                )
            elif section.type == "route":
                sources = [s if s >= 0 else i + s for s in section.get_ints("layers")]
                if any(not 0 <= s < i for s in sources):
                    raise ValueError(f"[route] at layer {i} refers to a missing layer: {sources}")
                self.routes[i] = sources
                layer, out_ch = nn.Identity(), sum(channels[s] for s in sources)
            elif section.type == "yolo":
                layer, out_ch = YoloLayer(section), in_ch
            else:
                raise ValueError(f"Unsupported darknet layer type [{section.type}].")
            self.layers.append(layer)
            channels.append(out_ch)
            in_ch = out_ch
        # Keep only the outputs that a later route reads; the rest can be freed early.
        self._keep = {s for sources in self.routes.values() for s in sources}

    @property
    def yolo_layers(self) -> list[YoloLayer]:
        """The detection heads, in cfg order."""
        return [m for m in self.layers if isinstance(m, YoloLayer)]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Raw YOLO maps, e.g. (N, 255, 13, 13) and (N, 255, 26, 26) for a 416 input."""
        saved: dict[int, torch.Tensor] = {}
        heads: list[torch.Tensor] = []
        for i, layer in enumerate(self.layers):
            if i in self.routes:
                parts = [saved[s] for s in self.routes[i]]
                x = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
            elif isinstance(layer, YoloLayer):
                heads.append(x)
            else:
                x = layer(x)
            if i in self._keep:
                saved[i] = x
        return heads

    def decode(self, heads: list[torch.Tensor], input_hw: tuple[int, int]) -> torch.Tensor:
        """All heads' candidates as one (N, K, 5 + C) float32 tensor (see ``YoloLayer.decode``)."""
        return torch.cat(
            [yolo.decode(raw, input_hw) for yolo, raw in zip(self.yolo_layers, heads, strict=True)],
            dim=1,
        )

    def load_weights(self, path: str | Path) -> int:
        """Copy a darknet ``.weights`` file into the layers; returns the float count read.

        Raises ``ValueError`` unless the file holds exactly the parameters the cfg
        describes: a wrong cfg/weights pair must not load silently.
        """
        data = Path(path).read_bytes()
        major, minor, _revision = np.frombuffer(data, dtype="<i4", count=3)
        # "seen" became 64-bit in darknet 0.2; older files store it as int32.
        header = 20 if (major * 10 + minor) >= 2 and major < 1000 and minor < 1000 else 16
        if (len(data) - header) % 4:
            raise ValueError(f"{path}: the body is not a whole number of float32 values.")
        values = torch.from_numpy(np.frombuffer(data, dtype="<f4", offset=header).copy())
        offset = 0

        def take(target: torch.Tensor) -> None:
            nonlocal offset
            n = target.numel()
            if offset + n > values.numel():
                raise ValueError(f"{path} ends early: the cfg needs more parameters than it holds.")
            with torch.no_grad():
                target.copy_(values[offset : offset + n].view_as(target))
            offset += n

        for layer in self.layers:
            if not isinstance(layer, ConvLayer):
                continue
            if layer.bn is not None:
                for tensor in (
                    layer.bn.bias,
                    layer.bn.weight,
                    layer.bn.running_mean,
                    layer.bn.running_var,
                ):
                    take(tensor)
            else:
                assert layer.conv.bias is not None
                take(layer.conv.bias)
            take(layer.conv.weight)
        if offset != values.numel():
            raise ValueError(
                f"{path} holds {values.numel() - offset} float32 values more than the cfg uses."
            )
        return offset


def load_darknet(cfg_path: str | Path, weights_path: str | Path) -> Darknet:
    """Build a network from its cfg and load its weights (every byte accounted for)."""
    model = Darknet(parse_cfg(Path(cfg_path).read_text()))
    model.load_weights(weights_path)
    return model.eval()
