"""The PoseWarper network: HRNet backbone, warping head with deformable convolutions, light
CPU variants, model files. Public API:

    ModelConfig, OFFICIAL_CONFIG, LIGHT_CONFIGS, named_config(name)
    build_model(config, pretrained=False) -> PoseWarper   (.forward / .propagate / .aggregate)
    save_model(path, model, config, provenance); load_model(path, device=None) -> (model, config)
    load_official_checkpoint(model, path)
    default_device()
"""
from .checkpoint import (build_model, count_parameters, default_device, flow_seed, load_model,
                         load_official_checkpoint, save_model)
from .config import LIGHT_CONFIGS, OFFICIAL_CONFIG, ModelConfig, named_config
from .deform import DeformConv, deform_conv2d, deform_conv2d_grid
from .warper import AGGREGATION_WEIGHTS, PoseWarper, WarpingHead

__all__ = [
    "AGGREGATION_WEIGHTS", "DeformConv", "LIGHT_CONFIGS", "ModelConfig", "OFFICIAL_CONFIG",
    "PoseWarper", "WarpingHead", "build_model", "count_parameters", "default_device",
    "deform_conv2d", "deform_conv2d_grid", "flow_seed", "load_model", "load_official_checkpoint",
    "named_config", "save_model",
]
