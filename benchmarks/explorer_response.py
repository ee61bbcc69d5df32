"""How long the live critic explorer (Chapter 5) takes to respond to a slider change, on this machine.

    python benchmarks/explorer_response.py

A change that needs a new critic trains one (250 steps of a 3x64 MLP, batches of 128) and then draws; a change of
the steps slider, or back to a setting seen before, only draws. Prints the median and the worst
time of each kind. Single-threaded torch, as the chapter runs it.

It first times the pieces of the explorer cell's first display in a kernel (where Chapter 5's
slider cell spends its time before the notebook shows the figure): the widget import, the widgets,
training the initial critic, drawing its figure, rendering the live PNG, and the readout.
"""

import itertools
import math
import time

import numpy as np
import torch

from wgan_teach.explorer import CriticExplorer


def first_display():
    """Seconds spent by each piece of the penalty figure's first live display."""
    from wgan_teach.interactive import live_png

    times = {}

    def timed(name, thunk):
        start = time.perf_counter()
        value = thunk()
        times[name] = time.perf_counter() - start
        return value

    timed("import ipywidgets", lambda: __import__("ipywidgets"))
    explorer = CriticExplorer("8gaussians")
    figure = explorer.penalty_figure()
    timed("widgets (sliders, image, readout)", figure._live_parts)
    setting = {s.name: s.values[s.initial_index] for s in figure.sliders}
    args = ("two-sided", setting["lam"], setting["steps"], setting["offset"])
    timed("train the initial critic", lambda: explorer.critic(*args))
    fig = timed("draw its figure", lambda: figure.figure(**setting))
    timed("render the live PNG (2x)", lambda: live_png(fig))
    timed("readout (with the exact W1)", lambda: figure.readout(**setting))
    for name, seconds in times.items():
        print(f"  {name:36s} {seconds:.3f} s")
    print(f"  {'total':36s} {sum(times.values()):.3f} s")


def main():
    torch.set_num_threads(1)
    print("first display of the explorer cell (after a warm-up critic):")
    CriticExplorer("8gaussians", steps=(25,)).critic("two-sided", 10.0, 25, 0.0)  # autograd, fonts
    first_display()
    explorer = CriticExplorer("8gaussians")
    penalty, clipping = explorer.penalty_figure(), explorer.clipping_figure()
    start = time.perf_counter()  # the first draw pays one-time costs (autograd, fonts, exact W1)
    penalty.frame(penalty="two-sided", lam=100.0, steps=25, offset=2.0)
    print(f"first draw (warm-up, not counted)   {time.perf_counter() - start:.3f} s")
    settings = [(penalty, dict(penalty=form, lam=lam)) for form, lam in itertools.product(("two-sided", "one-sided"), (1.0, 10.0))]
    settings += [(clipping, dict(c=c)) for c in (0.01, 0.1, math.inf)]
    fresh, cached = [], []
    for (figure, params), offset in itertools.product(settings, (0.0, 1.0)):
        params = dict(params, steps=250, offset=offset)
        was_new = explorer._trained.cache_info().currsize
        start = time.perf_counter()
        figure.frame(**params)
        elapsed = time.perf_counter() - start
        (fresh if explorer._trained.cache_info().currsize > was_new else cached).append(elapsed)
        start = time.perf_counter()
        figure.frame(**{**params, "steps": 100})
        cached.append(time.perf_counter() - start)
    for name, times in (("new critic (train + draw)", fresh), ("cached critic (draw only)", cached)):
        times = np.array(times)
        print(f"{name:27s} n = {len(times):2d}  median {np.median(times):.3f} s  worst {times.max():.3f} s")


if __name__ == "__main__":
    main()
