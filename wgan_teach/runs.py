"""The old home of the image-run code, now split by idea: :mod:`wgan_teach.recipes`,
:mod:`wgan_teach.run_folder`, :mod:`wgan_teach.run_fid`, :mod:`wgan_teach.run_training` and
:mod:`wgan_teach.publish`. These names stay importable from here until every caller imports them
from their modules."""

from .publish import PublishedRun, export_run, published_runs, windowed
from .recipes import NETWORKS, RECIPES, ImageRecipe, recipe_by_name
from .run_fid import REFERENCE_SEED, FidScorer, fid_of_real, fid_run
from .run_folder import RunFolderBusy, load_generator, locked, sample_grid
from .run_training import read_checkpoint, train_run

__all__ = ["ImageRecipe", "NETWORKS", "RECIPES", "recipe_by_name", "RunFolderBusy", "locked", "read_checkpoint",
           "train_run", "FidScorer", "REFERENCE_SEED", "fid_run", "fid_of_real", "sample_grid", "load_generator",
           "windowed", "export_run", "PublishedRun", "published_runs"]
