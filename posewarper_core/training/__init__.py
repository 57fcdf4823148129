"""Training PoseWarper: datasets of pairs, synthetic data, the (DDP-aware) loop, recipes and
per-project adaptation.

    train(model, model_config, dataset, TrainConfig(...), out_dir)   # the loop
    adapt(model, config, video, frames, steps=..., progress=..., cancel=...) -> adapted copy
    get_recipe(name), build_dataset(recipe, input_size, sigma, ...)  # what `posewarper train` runs
"""
from .adapt import adapt, adapt_file
from .loop import TrainConfig, load_checkpoint, setup_distributed, train
from .recipes import RECIPES, Recipe, build_dataset, get_recipe

__all__ = ["adapt", "adapt_file", "train", "TrainConfig", "load_checkpoint", "setup_distributed", "RECIPES", "Recipe",
           "build_dataset", "get_recipe"]
