"""ModelConfig: everything needed to rebuild a PoseWarper network (saved inside checkpoints)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from ..errors import ModelError

BACKBONES = ("hrnet_w48", "hrnet_w32", "hrnet_w18", "mobilenet_v2", "tiny")


@dataclass(frozen=True)
class ModelConfig:
    """A PoseWarper network: backbone, warping head and input geometry.

    input_size is (width, height) of the person crop, as the official yaml writes it; heatmaps
    are at stride 4. The head is `head_blocks` BasicBlocks of `head_channels` channels on the
    heatmap difference, one offset conv + one deformable 3x3 conv per dilation, averaged.
    backbone_weights optionally names an ImageNet weights file for light backbones (used only
    when a model is built for training; checkpoints carry all weights themselves).
    """

    name: str = "official"
    backbone: str = "hrnet_w48"
    num_joints: int = 17
    input_size: tuple[int, int] = (288, 384)
    head_channels: int = 128
    head_blocks: int = 20
    dilations: tuple[int, ...] = (3, 6, 12, 18, 24)
    decoder_channels: int = 128  # upsampling head of the light backbones (not used by HRNet)
    sigma: float = 3.0  # Gaussian of the training targets and propagated heatmaps, heatmap px
    backbone_weights: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "input_size", tuple(int(v) for v in self.input_size))
        object.__setattr__(self, "dilations", tuple(int(v) for v in self.dilations))
        problems = []
        if self.backbone not in BACKBONES:
            problems.append(f"backbone {self.backbone!r} is not one of {', '.join(BACKBONES)}")
        multiple = 4 if self.backbone == "tiny" else 32  # the deepest stride of the backbone
        if len(self.input_size) != 2 or any(v <= 0 or v % multiple for v in self.input_size):
            problems.append(f"input_size {self.input_size} must be two positive multiples of "
                            f"{multiple} for {self.backbone}")
        if self.num_joints < 1 or self.head_channels < 1 or self.head_blocks < 1:
            problems.append("num_joints, head_channels and head_blocks must be positive")
        if not self.dilations or any(d < 1 for d in self.dilations):
            problems.append(f"dilations {self.dilations} must be positive")
        if problems:
            raise ModelError(f"model config {self.name!r}: " + "; ".join(problems))

    @property
    def heatmap_size(self) -> tuple[int, int]:
        """(width, height) of the heatmaps: the input at stride 4."""
        return (self.input_size[0] // 4, self.input_size[1] // 4)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["input_size"] = list(self.input_size)
        d["dilations"] = list(self.dilations)
        return d

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> "ModelConfig":
        """Rebuild from `to_dict()` output; ModelError naming `source` on unknown/bad fields."""
        if not isinstance(data, dict):
            raise ModelError(f"{source}: model config is not a mapping")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelError(f"{source}: unknown model config field(s) {', '.join(unknown)}")
        try:
            return cls(**data)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{source}: bad model config: {exc}") from None
        except ModelError as exc:
            raise ModelError(f"{source}: {exc}") from None

    def with_changes(self, **changes) -> "ModelConfig":
        return replace(self, **changes)


# The published PoseWarper: HRNet-W48 at 384x288, 20x128 head, dilations 3..24.
OFFICIAL_CONFIG = ModelConfig()

# Lighter variants for a CPU. Heatmaps 48x64 (input 192x256): dilations scaled by 2/3 so the
# largest still spans about the same fraction of the crop.
LIGHT_CONFIGS: dict[str, ModelConfig] = {
    "hrnet_w32": ModelConfig(name="hrnet_w32", backbone="hrnet_w32", input_size=(192, 256),
                             head_channels=64, head_blocks=8, dilations=(2, 4, 8, 12, 16),
                             sigma=2.0),
    "hrnet_w18": ModelConfig(name="hrnet_w18", backbone="hrnet_w18", input_size=(192, 256),
                             head_channels=64, head_blocks=6, dilations=(2, 4, 8, 12, 16),
                             sigma=2.0),
    "mobilenet_v2": ModelConfig(name="mobilenet_v2", backbone="mobilenet_v2",
                                input_size=(192, 256), head_channels=48, head_blocks=4,
                                dilations=(2, 4, 8, 12, 16), decoder_channels=128, sigma=2.0),
    # a few-thousand-parameter backbone for tests and smoke runs (learns little)
    "tiny": ModelConfig(name="tiny", backbone="tiny", input_size=(64, 64), head_channels=16,
                        head_blocks=2, dilations=(1, 2, 4), sigma=2.0),
}


def named_config(name: str) -> ModelConfig:
    """'official' or one of LIGHT_CONFIGS; ModelError listing the names otherwise."""
    if name == "official":
        return OFFICIAL_CONFIG
    try:
        return LIGHT_CONFIGS[name]
    except KeyError:
        names = ", ".join(["official", *LIGHT_CONFIGS])
        raise ModelError(f"unknown model config {name!r}; known: {names}") from None
