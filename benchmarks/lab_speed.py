"""The training lab's speed beside the package's: Chapter 6's recipe in the page and in PyTorch.

    python benchmarks/lab_speed.py [--seeds 3] [--store]

Chapter 6's recipe (8 Gaussians; batch 64, 5 critic steps, critic 3 x 32, generator 3 x 64, Adam
4e-3 with betas (0, 0.9), lambda 10, learning rate decayed to 0 over 1,500 generator steps), for
Algorithm 1 and the one-sided penalty, trained

- by the package: ``wgan_teach.experiments.run_toy`` (PyTorch, one CPU thread, float32), its
  training time as the run records it;
- in the page: ``lab.js``'s trainer in headless Chromium (float64), timed in the page;

each run of the package followed by the same run in the page, so that both meet the same machine.

It prints generator steps per second of both and their ratio, and the quality both reach, measured
by the package's own ``experiments.evaluate`` (the page's final generator copied into a PyTorch
one). Then it opens a live lab, presses Play, and reports what a reader gets while it trains: the
steps per second the lab shows, the picture's redraws per second, and how long a press of Pause
takes to stop the trainer (the worker's next message). ``--store`` writes the package's runs'
quality to ``wgan_teach/results/lab_python_runs.json``, the band ``tests/test_lab.py`` compares the page's
run with.
"""

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wgan_teach import experiments, lab  # noqa: E402
from wgan_teach.nets import generator_mlp  # noqa: E402

BAND = Path(__file__).resolve().parents[1] / "wgan_teach" / "results" / "lab_python_runs.json"
METHODS = ("wgan-gp", "wgan-gp-one-sided")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TRAIN_JS = """
([loss, seed]) => {
  const t = new WganLab.core.Trainer({dataset: "8gaussians", loss, seed});
  const began = performance.now();
  while (t.advance()) {}
  return {steps: t.step, seconds: (performance.now() - began) / 1000, generator: Array.from(t.generator.theta)};
}
"""


def page_generator(theta: list[float]) -> torch.nn.Module:
    """The page's generator weights in the package's generator (torch's parameter order)."""
    generator = generator_mlp(2, 2, width=64, init="he")
    values, at = torch.tensor(theta, dtype=torch.float64), 0
    with torch.no_grad():
        for p in generator.parameters():
            p.copy_(values[at:at + p.numel()].reshape(p.shape))
            at += p.numel()
    return generator


def python_run(method: str, seed: int) -> dict:
    result = experiments.run_toy(experiments.ToyRun("8gaussians", method, seed=seed))
    return {"method": method, "seed": seed, "steps": result.run.steps, "seconds": result.seconds,
            "modes_covered": result.quality["modes_covered"], "high_quality": result.quality["high_quality"]}


def page_run(page, method: str, seed: int) -> dict:
    trained = page.evaluate(TRAIN_JS, [method, seed])
    quality = experiments.evaluate(page_generator(trained["generator"]), "8gaussians")
    return {"method": method, "seed": seed, "steps": trained["steps"], "seconds": trained["seconds"],
            "modes_covered": quality["modes_covered"], "high_quality": quality["high_quality"]}


def side_by_side(browser, seeds: int) -> tuple[list[dict], list[dict]]:
    """Each run in PyTorch, then the same in the page, one after the other: both see the same machine."""
    page = browser.new_page()
    page.set_content(f"<!doctype html><html><body><script>{lab.lab_js()}</script></body></html>")
    python, ours = [], []
    for method in METHODS:
        for seed in range(seeds):
            for rows, where, run in ((python, "python", lambda: python_run(method, seed)),
                                     (ours, "page", lambda: page_run(page, method, seed))):
                rows.append(run())
                r = rows[-1]
                print(f"  {where:6} {method:18} seed {seed}: {r['steps'] / r['seconds']:6.1f} steps/s, "
                      f"modes {r['modes_covered']}/8, high quality {r['high_quality']:.3f}", flush=True)
    page.close()
    return python, ours


LIVE_JS = """
async () => {
  const lab = WganLab.instances[0], pause = ms => new Promise(r => setTimeout(r, ms));
  lab.playButton.click();
  await pause(1000);  // warm up
  const f0 = lab.frames, t0 = performance.now(), s0 = lab.state.step;
  await pause(5000);
  const frames = (lab.frames - f0) / ((performance.now() - t0) / 1000);
  const shown = lab.state.rate, steps = (lab.state.step - s0) / ((performance.now() - t0) / 1000);
  const pressed = performance.now();
  lab.playButton.click();  // Pause: how long until the trainer's message says it stopped
  while (lab.state.playing) await pause(1);
  return {frames_per_s: frames, steps_per_s: steps, shown_steps_per_s: shown,
          pause_ms: performance.now() - pressed, in_worker: lab.inWorker};
}
"""


def live_lab(browser, width: int) -> dict:
    page = browser.new_page(viewport={"width": width, "height": 1000})
    page.set_content(f"<!doctype html><html><body><main style='max-width:800px;margin:auto'>"
                     f"{lab.show().html()}</main></body></html>")
    page.wait_for_function("WganLab.instances.length && WganLab.instances[0].state")
    result = page.evaluate(LIVE_JS)
    page.close()
    return result


def summary(rows: list[dict], method: str) -> tuple[float, float]:
    rates = [r["steps"] / r["seconds"] for r in rows if r["method"] == method]
    return statistics.median(rates), len(rates)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--store", action="store_true", help=f"write the package's runs to {BAND.name}")
    args = parser.parse_args()
    began = time.perf_counter()
    print(f"Chapter 6's recipe on 8 Gaussians, 1,500 generator steps, {args.seeds} seeds per method")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        python, page = side_by_side(browser, args.seeds)
        live = {width: live_lab(browser, width) for width in (400, 1280)}
        browser.close()
    print(f"\n{'method':20} {'PyTorch, 1 thread':>18} {'page (JS)':>10} {'page / PyTorch':>15}")
    for method in METHODS:
        ours, theirs = summary(page, method)[0], summary(python, method)[0]
        print(f"{method:20} {theirs:12.1f} st/s {ours:6.1f} st/s {ours / theirs:14.2f}x")
    for width, result in live.items():
        print(f"live lab at {width} px ({'Web Worker' if result['in_worker'] else 'page thread'}): "
              f"{result['steps_per_s']:.1f} steps/s while drawing (shown {result['shown_steps_per_s']:.1f}), "
              f"{result['frames_per_s']:.1f} redraws/s, Pause stops the trainer in {result['pause_ms']:.0f} ms")
    print(f"(medians over seeds; machine: {platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores, "
          f"shared with other jobs; {time.perf_counter() - began:.0f} s in all)")
    if args.store:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        BAND.write_text(json.dumps({
            "runs": [{k: r[k] for k in ("method", "seed", "modes_covered", "high_quality")} for r in python],
            "provenance": {"command": "python benchmarks/lab_speed.py --store " + f"--seeds {args.seeds}",
                           "commit": commit, "torch": torch.__version__, "date": time.strftime("%Y-%m-%d")},
        }, indent=1) + "\n")
        print(f"stored the package's runs in {BAND.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
