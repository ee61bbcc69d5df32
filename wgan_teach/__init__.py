"""wgan-teach: the helper package of the book "Wasserstein GANs with gradient penalty, from the ground up".

One idea per module (see the README's layout table); the one name exported here is the checker a
reader runs on their own code, ``wgan_teach.check_penalty`` (:mod:`wgan_teach.penalty_check`).
"""

from .penalty_check import check_penalty

__all__ = ["check_penalty"]
