/* The training lab of wgan_teach: a GAN, a WGAN with weight clipping and WGAN-GP trained live in
 * the page, in plain JavaScript (no library, no request leaves the page).
 *
 * Two parts:
 *  - labCore: the maths. Multilayer perceptrons with ReLU in Float64Array, the four critic losses
 *    and their gradients by hand (the gradient penalty's weight gradient in closed form: one
 *    backward pass for grad_x f, then one forward pass of the direction r = dphi/dg through the
 *    same ReLU masks), Adam and RMSProp as torch.optim computes them, the data sets of
 *    wgan_teach.toy and the quality measures of wgan_teach.metrics. It runs in a Web Worker made
 *    from a Blob (its source is this function's text) and, for drawing, on the page's thread.
 *  - the page: controls, the critic's filled contours, its gradient field, the samples, the curves.
 *
 * wgan_teach.lab.show() inlines this file; several labs on one page share one copy of it.
 */
(function (global) {
  "use strict";
  var VERSION = 1;
  if (global.WganLab && global.WganLab.version === VERSION) return;

  function labCore(scope, inWorker) {
    "use strict";

    // -- random numbers: xoshiro128** seeded by splitmix32; doubles with 53 random bits ----------
    function Rng(seed) {
      var s = seed >>> 0;
      function splitmix() {
        s = (s + 0x9e3779b9) >>> 0;
        var z = s;
        z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
        z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
        return (z ^ (z >>> 16)) >>> 0;
      }
      this.a = splitmix(); this.b = splitmix(); this.c = splitmix(); this.d = splitmix();
      this.spare = NaN;
    }
    Rng.prototype.u32 = function () {
      var b5 = Math.imul(this.b, 5);
      var result = Math.imul((b5 << 7) | (b5 >>> 25), 9) >>> 0;
      var t = this.b << 9;
      this.c ^= this.a; this.d ^= this.b; this.b ^= this.c; this.a ^= this.d;
      this.c ^= t;
      this.d = (this.d << 11) | (this.d >>> 21);
      return result;
    };
    Rng.prototype.uniform = function () {  // in [0, 1)
      return ((this.u32() >>> 5) * 67108864 + (this.u32() >>> 6)) / 9007199254740992;
    };
    Rng.prototype.normal = function () {  // Box-Muller, the second value kept for the next call
      if (this.spare === this.spare) { var v = this.spare; this.spare = NaN; return v; }
      var u = 1 - this.uniform(), t = 2 * Math.PI * this.uniform(), r = Math.sqrt(-2 * Math.log(u));
      this.spare = r * Math.sin(t);
      return r * Math.cos(t);
    };
    Rng.prototype.normals = function (out) {
      for (var i = 0; i < out.length; i++) out[i] = this.normal();
      return out;
    };

    // -- the data sets of wgan_teach.toy: (centre + std * noise) / divisor ------------------------
    var MIXTURES = {};
    (function () {
      var c8 = [], c25 = [];
      for (var k = 0; k < 8; k++) c8.push([2 * Math.cos(k * Math.PI / 4), 2 * Math.sin(k * Math.PI / 4)]);
      for (var i = -2; i <= 2; i++) for (var j = -2; j <= 2; j++) c25.push([2 * i, 2 * j]);
      MIXTURES["8gaussians"] = { centres: c8, std: 0.02, divisor: 1.414 };
      MIXTURES["25gaussians"] = { centres: c25, std: 0.05, divisor: 2.828 };
    })();
    var DATASETS = ["8gaussians", "25gaussians", "swissroll"];

    function sampleData(name, n, rng, out) {
      out = out || new Float64Array(2 * n);
      if (name === "swissroll") {
        for (var i = 0; i < n; i++) {
          var t = 1.5 * Math.PI * (1 + 2 * rng.uniform());
          out[2 * i] = (t * Math.cos(t) + 0.25 * rng.normal()) / 7.5;
          out[2 * i + 1] = (t * Math.sin(t) + 0.25 * rng.normal()) / 7.5;
        }
        return out;
      }
      var m = MIXTURES[name];
      if (!m) throw new Error("unknown data set " + name);
      for (var k = 0; k < n; k++) {
        var c = m.centres[Math.floor(rng.uniform() * m.centres.length)];
        out[2 * k] = (c[0] + m.std * rng.normal()) / m.divisor;
        out[2 * k + 1] = (c[1] + m.std * rng.normal()) / m.divisor;
      }
      return out;
    }

    // Modes covered and high-quality share, as wgan_teach.metrics.mode_coverage defines them: a
    // sample is high quality within 3 std of its nearest mode centre; a mode is covered by 20 such.
    function modeCoverage(samples, n, name, minCount) {
      var m = MIXTURES[name];
      if (!m) return null;
      minCount = minCount || 20;
      var radius = 3 * m.std / m.divisor, counts = new Array(m.centres.length).fill(0), close = 0;
      for (var i = 0; i < n; i++) {
        var x = samples[2 * i], y = samples[2 * i + 1], best = Infinity, at = 0;
        for (var k = 0; k < m.centres.length; k++) {
          var dx = x - m.centres[k][0] / m.divisor, dy = y - m.centres[k][1] / m.divisor, d = dx * dx + dy * dy;
          if (d < best) { best = d; at = k; }
        }
        if (Math.sqrt(best) <= radius) { counts[at]++; close++; }
      }
      var covered = 0;
      for (var j = 0; j < counts.length; j++) if (counts[j] >= minCount) covered++;
      return { modes_covered: covered, modes: counts.length, high_quality: close / n, counts: counts };
    }

    // -- multilayer perceptrons -----------------------------------------------------------------
    // sizes [n_0, ..., n_L]; layer l (1..L) computes z_l = W_l a_{l-1} + b_l, a_l = relu(z_l) except
    // the last. All parameters in one Float64Array theta, layer by layer W_l (n_l x n_{l-1}, row
    // major, as torch's nn.Linear.weight) then b_l: the order of torch's parameters().
    function Mlp(sizes, theta) {
      this.sizes = sizes.slice();
      this.offsets = [];
      var at = 0;
      for (var l = 1; l < sizes.length; l++) {
        this.offsets.push([at, at + sizes[l] * sizes[l - 1]]);
        at += sizes[l] * sizes[l - 1] + sizes[l];
      }
      this.size = at;
      this.theta = theta ? Float64Array.from(theta) : new Float64Array(at);
      this.changed = true;  // set whenever theta changes, so that forward() transposes the weights again
      if (this.theta.length !== at) throw new Error("expected " + at + " parameters, got " + this.theta.length);
    }
    Mlp.prototype.layers = function () { return this.sizes.length - 1; };

    // Chapter 6's initialisation (wgan_teach.nets.mlp, init="he"): hidden weights U(+-sqrt(6/n_in)),
    // output weights U(+-sqrt(6/(n_in + n_out))), biases zero.
    function initHe(net, rng) {
      var L = net.layers();
      net.theta.fill(0);
      net.changed = true;
      for (var l = 1; l <= L; l++) {
        var nIn = net.sizes[l - 1], nOut = net.sizes[l], w0 = net.offsets[l - 1][0];
        var bound = l < L ? Math.sqrt(6 / nIn) : Math.sqrt(6 / (nIn + nOut));
        for (var k = 0; k < nIn * nOut; k++) net.theta[w0 + k] = (2 * rng.uniform() - 1) * bound;
      }
      return net;
    }

    // Work buffers, kept between calls (tags name the role: real, fake, interpolates, ...).
    var pool = {};
    function buffers(tag, sizes, n) {
      var key = tag + ":" + n + ":" + sizes.join(",");
      var b = pool[key];
      if (!b) {
        b = { acts: [], deltas: [] };
        for (var l = 0; l < sizes.length; l++) {
          b.acts.push(new Float64Array(n * sizes[l]));
          b.deltas.push(new Float64Array(n * sizes[l]));
        }
        pool[key] = b;
      }
      return b;
    }

    // One layer, z = W a + b for n rows (relu: max(0, z)), from wt = W^T (n_in x n_out): each
    // input adds its column, and the zeros that the ReLU left in a cost nothing. Small kernels of
    // typed arrays and integers only, which the JavaScript engines compile to tight loops.
    function layerForward(wt, th, b0, a, z, n, nIn, nOut, relu) {
      for (var i = 0; i < n; i++) {
        var ai = i * nIn, zi = i * nOut, j, k = 0, wk, v;
        for (j = 0; j < nOut; j++) z[zi + j] = th[b0 + j];
        for (; k + 1 < nIn; k += 2) {  // two inputs at a time: half the passes over z
          var v0 = a[ai + k], v1 = a[ai + k + 1], w0 = k * nOut, w1 = w0 + nOut;
          if (v0 !== 0 && v1 !== 0) for (j = 0; j < nOut; j++) z[zi + j] += v0 * wt[w0 + j] + v1 * wt[w1 + j];
          else if (v0 !== 0) for (j = 0; j < nOut; j++) z[zi + j] += v0 * wt[w0 + j];
          else if (v1 !== 0) for (j = 0; j < nOut; j++) z[zi + j] += v1 * wt[w1 + j];
        }
        for (; k < nIn; k++) {
          v = a[ai + k];
          if (v === 0) continue;
          wk = k * nOut;
          for (j = 0; j < nOut; j++) z[zi + j] += v * wt[wk + j];
        }
        if (relu) for (j = 0; j < nOut; j++) if (!(z[zi + j] > 0)) z[zi + j] = 0;
      }
    }
    function transpose(th, w0, wt, nIn, nOut) {
      for (var j = 0; j < nOut; j++) for (var k = 0; k < nIn; k++) wt[w0 + k * nOut + j] = th[w0 + j * nIn + k];
    }
    // The backward of one layer: adds delta a^T into the weights' gradient and delta into the biases'
    // (when grad), and writes W^T delta, masked by the ReLU of a when mask, into below (when below).
    function layerBackward(th, w0, b0, d, a, below, grad, n, nIn, nOut, mask) {
      if (below) below.fill(0, 0, n * nIn);
      for (var i = 0; i < n; i++) {
        var ai = i * nIn, di = i * nOut, k, held = -1, dHeld = 0;
        for (var j = 0; j < nOut; j++) {
          var dj = d[di + j];
          if (dj === 0) continue;
          var wj = w0 + j * nIn;
          if (grad) {
            grad[b0 + j] += dj;
            for (k = 0; k < nIn; k++) grad[wj + k] += dj * a[ai + k];
          }
          if (below) {  // two rows of W at a time: half the passes over below
            if (held < 0) { held = wj; dHeld = dj; }
            else {
              for (k = 0; k < nIn; k++) below[ai + k] += th[held + k] * dHeld + th[wj + k] * dj;
              held = -1;
            }
          }
        }
        if (below && held >= 0) for (k = 0; k < nIn; k++) below[ai + k] += th[held + k] * dHeld;
        if (mask) for (k = 0; k < nIn; k++) if (!(a[ai + k] > 0)) below[ai + k] = 0;
      }
    }

    // Forward pass of n rows of X (n x n_0); keeps every layer's output in buf.acts; returns the last.
    function forward(net, X, n, buf) {
      var sizes = net.sizes, L = sizes.length - 1, acts = buf.acts;
      acts[0].set(X.length === n * sizes[0] ? X : X.subarray(0, n * sizes[0]));
      var fresh = !net.wt || net.changed;  // W^T once per change of the weights (see Mlp.changed)
      if (!net.wt) net.wt = new Float64Array(net.size);
      for (var l = 1; l <= L; l++) {
        var w0 = net.offsets[l - 1][0];
        if (fresh) transpose(net.theta, w0, net.wt, sizes[l - 1], sizes[l]);
        layerForward(net.wt.subarray(w0), net.theta, net.offsets[l - 1][1], acts[l - 1], acts[l], n,
                     sizes[l - 1], sizes[l], l < L);
      }
      net.changed = false;
      return acts[L];
    }

    // Backward pass: up = dLoss/d(output), n x n_L. Writes delta_l = dLoss/dz_l into buf.deltas[l];
    // adds dLoss/dW_l, dLoss/db_l into grad (if given); writes dLoss/dX into gradX (if given).
    function backward(net, buf, n, up, grad, gradX) {
      var sizes = net.sizes, L = sizes.length - 1, acts = buf.acts, deltas = buf.deltas;
      deltas[L].set(up.length === n * sizes[L] ? up : up.subarray(0, n * sizes[L]));
      for (var l = L; l >= 1; l--) {
        layerBackward(net.theta, net.offsets[l - 1][0], net.offsets[l - 1][1], deltas[l], acts[l - 1],
                      l > 1 ? deltas[l - 1] : gradX, grad, n, sizes[l - 1], sizes[l], l > 1);
      }
    }

    // The penalty's weight gradient in closed form. With the masks of the forward pass fixed,
    // g = grad_x f(x) = W_1^T D_1 W_2^T ... D_{L-1} W_L^T is linear in each W_l, and for a
    // direction r = dphi/dg (per row, n x n_0):
    //   d<r, g>/dW_l = delta_l rho_l^T,   d<r, g>/db_l = 0,
    // with delta_l = df/dz_l (the backward pass of f, in buf.deltas) and rho_l the derivative of
    // a_{l-1} along r: rho_1 = r, rho_{l+1} = D_l W_l rho_l (a forward pass of r through the same
    // masks, without biases). Adds them into grad.
    function penaltyWeightGradient(net, buf, n, r, grad) {
      var sizes = net.sizes, L = sizes.length - 1, th = net.theta, acts = buf.acts, deltas = buf.deltas;
      var widest = 0;
      for (var q = 0; q < sizes.length; q++) widest = Math.max(widest, sizes[q]);
      var rho = new Float64Array(widest), next = new Float64Array(widest);
      for (var i = 0; i < n; i++) {
        for (var c = 0; c < sizes[0]; c++) rho[c] = r[i * sizes[0] + c];
        for (var l = 1; l <= L; l++) {
          var nIn = sizes[l - 1], nOut = sizes[l], w0 = net.offsets[l - 1][0];
          var d = deltas[l], a = acts[l], di = i * nOut;
          for (var j = 0; j < nOut; j++) {
            var wj = w0 + j * nIn, k, dj = d[di + j];
            if (dj !== 0) for (k = 0; k < nIn; k++) grad[wj + k] += dj * rho[k];
            if (l < L) {
              if (a[di + j] > 0) {
                var s = 0;
                for (k = 0; k < nIn; k++) s += th[wj + k] * rho[k];
                next[j] = s;
              } else next[j] = 0;
            }
          }
          var swap = rho; rho = next; next = swap;
        }
      }
    }

    // softplus and its derivative exactly as torch computes them (beta 1, threshold 20).
    function softplus(x) { return x > 20 ? x : Math.log1p(Math.exp(x)); }
    function softplusGrad(x) { if (x > 20) return 1; var z = Math.exp(x); return z / (z + 1); }

    var LOSSES = ["gan", "wgan-clip", "wgan-gp", "wgan-gp-one-sided"];

    // The critic's loss L_f and its gradient (into grad, zeroed first) on one batch of n real and n
    // generated points, with eps the n mixing weights of the interpolates:
    //   gan:        E softplus(-f(x)) + E softplus(f(x~))
    //   wgan-clip:  E f(x~) - E f(x)
    //   wgan-gp:    E f(x~) - E f(x) + lam E (|grad f(x^)| - 1)^2,   x^ = eps x + (1 - eps) x~
    //   one-sided:  ... + lam E max(0, |grad f(x^)| - 1)^2
    // Returns the loss, W^ = E f(x) - E f(x~), the penalty and the mean gradient norm at x^ (the
    // last two are measured for every loss when monitor is set; only the penalised losses train on them).
    function criticLoss(spec, critic, real, fake, eps, n, grad, monitor) {
      var loss = spec.loss, lam = spec.lam, penalised = loss === "wgan-gp" || loss === "wgan-gp-one-sided";
      var sizes = critic.sizes, d = sizes[0];
      var br = buffers("real", sizes, n), bf = buffers("fake", sizes, n);
      var fr = forward(critic, real, n, br), ff = forward(critic, fake, n, bf);
      var upR = scratch("upR", n), upF = scratch("upF", n), mr = 0, mf = 0, value = 0, i;
      for (i = 0; i < n; i++) { mr += fr[i]; mf += ff[i]; }
      mr /= n; mf /= n;
      if (loss === "gan") {
        var sr = 0, sf = 0;
        for (i = 0; i < n; i++) {
          sr += softplus(-fr[i]); sf += softplus(ff[i]);
          upR[i] = -softplusGrad(-fr[i]) / n; upF[i] = softplusGrad(ff[i]) / n;
        }
        value = sr / n + sf / n;
      } else if (LOSSES.indexOf(loss) >= 0) {
        value = -(mr - mf);
        for (i = 0; i < n; i++) { upR[i] = -1 / n; upF[i] = 1 / n; }
      } else throw new Error("unknown loss " + loss);
      if (grad) {
        grad.fill(0);
        backward(critic, br, n, upR, grad, null);
        backward(critic, bf, n, upF, grad, null);
      }
      var out = { loss: value, w_hat: mr - mf, penalty: NaN, grad_norm_mean: NaN };
      if (penalised || monitor) {
        var bh = buffers("hat", sizes, n), xh = scratch("xhat", n * d), g = scratch("gx", n * d);
        for (i = 0; i < n; i++) for (var c = 0; c < d; c++) {
          xh[i * d + c] = eps[i] * real[i * d + c] + (1 - eps[i]) * fake[i * d + c];
        }
        forward(critic, xh, n, bh);
        var ones = scratch("ones", n).fill(1);
        backward(critic, bh, n, ones, null, g);  // g_i = grad_x f(x^_i); deltas_l = df/dz_l
        var r = scratch("r", n * d), pen = 0, norms = 0;
        for (i = 0; i < n; i++) {
          var s2 = 0;
          for (c = 0; c < d; c++) s2 += g[i * d + c] * g[i * d + c];
          var s = Math.sqrt(s2), excess = s - 1;
          if (loss === "wgan-gp-one-sided" && excess < 0) excess = 0;
          pen += excess * excess; norms += s;
          // r_i = d(lam * mean phi)/dg_i = lam * 2 (s - 1) / n * g_i / s  (0 where g_i = 0)
          var coef = s > 0 ? lam * 2 * excess / n / s : 0;
          for (c = 0; c < d; c++) r[i * d + c] = coef * g[i * d + c];
        }
        out.penalty = pen / n; out.grad_norm_mean = norms / n;
        if (penalised) {
          out.loss = value + lam * out.penalty;
          if (grad) penaltyWeightGradient(critic, bh, n, r, grad);
        }
      }
      return out;
    }

    var scratches = {};
    function scratch(tag, n) {
      var a = scratches[tag];
      if (!a || a.length !== n) a = scratches[tag] = new Float64Array(n);
      return a;
    }

    // The generator's loss L_G = -E f(G(z)) (GAN: E softplus(-f(G(z)))) and its gradient w.r.t.
    // the generator's parameters (into grad, zeroed first); the critic gets no gradient.
    function generatorLoss(spec, generator, critic, z, n, grad) {
      var bg = buffers("gen", generator.sizes, n), bc = buffers("critic-of-gen", critic.sizes, n);
      var x = forward(generator, z, n, bg), f = forward(critic, x, n, bc);
      var up = scratch("upG", n), dx = scratch("dx", n * critic.sizes[0]), value = 0;
      for (var i = 0; i < n; i++) {
        if (spec.loss === "gan") { value += softplus(-f[i]); up[i] = -softplusGrad(-f[i]) / n; }
        else { value -= f[i]; up[i] = -1 / n; }
      }
      if (grad) {
        backward(critic, bc, n, up, null, dx);
        grad.fill(0);
        backward(generator, bg, n, dx, grad, null);
      }
      return { loss: value / n };
    }

    // -- optimisers, as torch.optim computes them (eps 1e-8; RMSProp alpha 0.99) -------------------
    function Adam(size) { this.m = new Float64Array(size); this.v = new Float64Array(size); this.t = 0; }
    Adam.prototype.step = function (theta, grad, lr, beta1, beta2) {
      this.t += 1;
      var w = 1 - beta1, m = this.m, v = this.v;
      var bc1 = 1 - Math.pow(beta1, this.t), bc2 = Math.sqrt(1 - Math.pow(beta2, this.t)), stepSize = lr / bc1;
      for (var k = 0; k < theta.length; k++) {
        var g = grad[k];
        m[k] = w < 0.5 ? m[k] + w * (g - m[k]) : g - (g - m[k]) * (1 - w);  // torch.lerp
        v[k] = v[k] * beta2 + (1 - beta2) * g * g;
        theta[k] += -stepSize * (m[k] / (Math.sqrt(v[k]) / bc2 + 1e-8));
      }
    };
    function RmsProp(size) { this.sq = new Float64Array(size); }
    RmsProp.prototype.step = function (theta, grad, lr) {
      var sq = this.sq;
      for (var k = 0; k < theta.length; k++) {
        var g = grad[k];
        sq[k] = sq[k] * 0.99 + (1 - 0.99) * g * g;
        theta[k] += -lr * (g / (Math.sqrt(sq[k]) + 1e-8));
      }
    };
    function clip(theta, c) {  // WGAN: every critic parameter into [-c, c]
      for (var k = 0; k < theta.length; k++) theta[k] = Math.min(Math.max(theta[k], -c), c);
    }

    // -- the recipes of wgan_teach.experiments.METHODS (Chapter 6), per loss ------------------------
    var RECIPES = {
      "gan": { nCritic: 1, lr: 4e-3, beta1: 0.5, beta2: 0.9 },
      "wgan-clip": { nCritic: 5, lr: 1e-3, clip: 0.01 },
      "wgan-gp": { nCritic: 5, lr: 4e-3, beta1: 0, beta2: 0.9, lam: 10 },
      "wgan-gp-one-sided": { nCritic: 5, lr: 4e-3, beta1: 0, beta2: 0.9, lam: 10 }
    };
    var DEFAULTS = {
      dataset: "8gaussians", loss: "wgan-gp", lam: 10, clip: 0.01, nCritic: 5, lr: 4e-3, beta1: 0, beta2: 0.9,
      batch: 64, width: 32, generatorWidth: 64, depth: 3, steps: 1500, decay: true, hold: false, seed: 0
    };

    // -- Algorithm 1, one generator step at a time -------------------------------------------------
    function Trainer(cfg) { this.cfg = {}; this.set(DEFAULTS); this.set(cfg || {}); this.reset(); }
    Trainer.prototype.set = function (cfg) {
      var old = this.cfg.loss;
      for (var key in cfg) if (Object.prototype.hasOwnProperty.call(cfg, key)) this.cfg[key] = cfg[key];
      if (this.critic && old !== this.cfg.loss && ((old === "wgan-clip") !== (this.cfg.loss === "wgan-clip"))) {
        this.makeOptimizers();  // Adam <-> RMSProp: a fresh optimiser state
      }
    };
    Trainer.prototype.makeOptimizers = function () {
      var Opt = this.cfg.loss === "wgan-clip" ? RmsProp : Adam;
      this.optG = new Opt(this.generator.size);
      this.optC = new Opt(this.critic.size);
    };
    Trainer.prototype.reset = function () {
      var cfg = this.cfg, h = [], k;
      this.rng = new Rng(cfg.seed);
      for (k = 0; k < cfg.depth; k++) h.push(cfg.generatorWidth);
      this.generator = initHe(new Mlp([2].concat(h, [2])), this.rng);
      h = [];
      for (k = 0; k < cfg.depth; k++) h.push(cfg.width);
      this.critic = initHe(new Mlp([2].concat(h, [1])), this.rng);
      this.gradG = new Float64Array(this.generator.size);
      this.gradC = new Float64Array(this.critic.size);
      this.makeOptimizers();
      this.step = 0;
      this.criticSteps = 0;
      this.log = [];
    };
    // The learning rate of generator step t (from 1), as wgan_teach.train.Recipe.lr_at.
    Trainer.prototype.lrAt = function (t) {
      var cfg = this.cfg;
      return cfg.decay && !cfg.hold ? cfg.lr * Math.max(0, 1 - (t - 1) / cfg.steps) : cfg.lr;
    };
    Trainer.prototype.finished = function () { return this.cfg.decay && !this.cfg.hold && this.step >= this.cfg.steps; };
    // One generator step: n_critic critic steps, then (unless the generator is held) one generator
    // step. Held, the generator is frozen and each call trains the critic n_critic steps against it.
    Trainer.prototype.advance = function () {
      if (this.finished()) return false;
      var cfg = this.cfg, n = cfg.batch, rng = this.rng, lr = this.lrAt(this.step + 1);
      var spec = { loss: cfg.loss, lam: cfg.lam }, last = null, i;
      var z = scratch("zc", 2 * n * cfg.nCritic);
      rng.normals(z);
      var gb = buffers("gen-fakes", this.generator.sizes, n * cfg.nCritic);
      var fakes = forward(this.generator, z, n * cfg.nCritic, gb);
      var real = scratch("real", 2 * n), eps = scratch("eps", n);
      for (var k = 0; k < cfg.nCritic; k++) {
        sampleData(cfg.dataset, n, rng, real);
        for (i = 0; i < n; i++) eps[i] = rng.uniform();
        last = criticLoss(spec, this.critic, real, fakes.subarray(2 * n * k, 2 * n * (k + 1)), eps, n, this.gradC,
                          k === cfg.nCritic - 1);
        if (cfg.loss === "wgan-clip") { this.optC.step(this.critic.theta, this.gradC, lr); clip(this.critic.theta, cfg.clip); }
        else this.optC.step(this.critic.theta, this.gradC, lr, cfg.beta1, cfg.beta2);
        this.critic.changed = true;
        this.criticSteps++;
      }
      var gLoss = NaN;
      if (!cfg.hold) {
        var zg = scratch("zg", 2 * n);
        rng.normals(zg);
        gLoss = generatorLoss(spec, this.generator, this.critic, zg, n, this.gradG).loss;
        if (cfg.loss === "wgan-clip") this.optG.step(this.generator.theta, this.gradG, lr);
        else this.optG.step(this.generator.theta, this.gradG, lr, cfg.beta1, cfg.beta2);
        this.generator.changed = true;
        this.step++;
      }
      this.log.push([this.step, this.criticSteps, last.w_hat, last.grad_norm_mean,
                     cfg.loss === "wgan-gp" || cfg.loss === "wgan-gp-one-sided" ? last.penalty : NaN, last.loss, gLoss]);
      return true;
    };

    // Samples of a generator at given latents (n x 2).
    function generate(generator, z, n) {
      return Float64Array.from(forward(generator, z, n, buffers("show", generator.sizes, n)));
    }
    // f and grad f of a critic at n points.
    function criticField(critic, X, n, withGrad) {
      var b = buffers("field", critic.sizes, n), f = Float64Array.from(forward(critic, X, n, b)), g = null;
      if (withGrad) {
        g = new Float64Array(2 * n);
        backward(critic, b, n, scratch("fieldOnes", n).fill(1), null, g);
      }
      return { f: f, g: g };
    }

    var api = {
      Rng: Rng, Mlp: Mlp, initHe: initHe, forward: forward, backward: backward, buffers: buffers,
      penaltyWeightGradient: penaltyWeightGradient, criticLoss: criticLoss, generatorLoss: generatorLoss,
      Adam: Adam, RmsProp: RmsProp, clip: clip, sampleData: sampleData, modeCoverage: modeCoverage,
      generate: generate, criticField: criticField, Trainer: Trainer, RECIPES: RECIPES, DEFAULTS: DEFAULTS,
      LOSSES: LOSSES, DATASETS: DATASETS, MIXTURES: MIXTURES
    };

    // -- in a worker: train on messages, post the state about 25 times a second ---------------------
    if (inWorker) {
      var trainer = null, playing = false, timer = null, rate = 0, rateMark = null;
      var order = 0;  // the number of the last Play or Pause heard, echoed in every state
      var now = function () { return scope.performance ? scope.performance.now() : Date.now(); };
      var evalLatents = null, measured = { t: -Infinity, step: -1, key: "" };
      var quality = function () {  // modes and high-quality share of 2,000 samples, about once a second
        var t = now(), key = trainer.cfg.dataset + trainer.step + ":" + trainer.criticSteps;
        if (!MIXTURES[trainer.cfg.dataset]) return null;
        if (measured.key !== key && (t - measured.t > 1000 || !playing)) {
          evalLatents = evalLatents || new Rng(2018).normals(new Float64Array(2 * 2000));
          measured = { t: t, key: key, quality: modeCoverage(generate(trainer.generator, evalLatents, 2000), 2000,
                                                             trainer.cfg.dataset) };
          measured.quality.step = trainer.step;
        }
        return measured.quality;
      };
      var drawing = false;  // a posted state not yet drawn: train on, and post the next when it is
      var post = function () {
        var t = now();
        drawing = true;
        scope.postMessage({
          quality: quality(),
          type: "state", step: trainer.step, criticSteps: trainer.criticSteps, playing: playing, order: order,
          finished: trainer.finished(), rate: rate, lr: trainer.lrAt(trainer.step + 1),
          generator: Float64Array.from(trainer.generator.theta), generatorSizes: trainer.generator.sizes,
          critic: Float64Array.from(trainer.critic.theta), criticSizes: trainer.critic.sizes,
          log: trainer.log
        });
        trainer.log = [];
        return t;
      };
      var loop = function () {
        timer = null;
        if (!playing) return;
        var t0 = now();
        var count = function () { return trainer.cfg.hold ? trainer.criticSteps : trainer.step; };
        if (!rateMark) rateMark = { t: t0, count: count() };
        while (now() - t0 < 25) {  // 25 ms of training between messages: controls answer within that
          if (!trainer.advance()) { playing = false; break; }
        }
        var t1 = now();
        if (t1 - rateMark.t > 500) {  // steps per second over the last half second or so
          rate = (count() - rateMark.count) / ((t1 - rateMark.t) / 1000);
          rateMark = { t: t1, count: count() };
        }
        if (!drawing || !playing) post();  // no backlog of states the page cannot draw in time
        if (playing) timer = setTimeout(loop, 0);
      };
      scope.onmessage = function (event) {
        var msg = event.data;
        try {
          if (msg.cmd === "drawn") drawing = false;
          else if (msg.cmd === "init") { trainer = new Trainer(msg.cfg); playing = false; rate = 0; rateMark = null; post(); }
          else if (msg.cmd === "set") { trainer.set(msg.cfg); if (msg.reset) { trainer.reset(); rate = 0; playing = false; } post(); }
          else if (msg.cmd === "play") {
            playing = true; rateMark = null; order = msg.order;
            if (!timer) timer = setTimeout(loop, 0);
          } else if (msg.cmd === "pause") { playing = false; rate = 0; order = msg.order; post(); }
          else if (msg.cmd === "step") { playing = false; trainer.advance(); post(); }
          else if (msg.cmd === "run") {  // n steps as fast as possible (benchmarks, tests)
            var t0 = now(), k = 0;
            while (k < msg.steps && trainer.advance()) k++;
            var seconds = (now() - t0) / 1000;
            post();
            scope.postMessage({ type: "ran", steps: k, seconds: seconds });
          }
        } catch (err) {
          scope.postMessage({ type: "error", message: String(err && err.stack || err) });
        }
      };
    }
    return api;
  }

  var core = labCore(global, false);
  var workerUrl = null;
  function makeWorker() {
    if (typeof Worker === "undefined" || typeof Blob === "undefined" || typeof URL === "undefined") return null;
    try {
      if (!workerUrl) {
        var source = "(" + labCore.toString() + ")(self, true);";
        workerUrl = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
      }
      return new Worker(workerUrl);
    } catch (err) {
      return null;  // no workers here (a strict page): the lab trains on the page's thread instead
    }
  }

  // A stand-in for the worker on the page's thread: the same messages, trained in 25 ms slices.
  // Its messages reach the page in the order they were sent, as a worker's do: one queue, flushed
  // by one timer (timers alone can reorder them, since the browser delays deeply nested ones).
  function InlineTrainer(onmessage) {
    var self = this, stopped = false, queue = [];
    this.onmessage = onmessage;
    var flush = function () {
      var sent = queue;
      queue = [];
      for (var i = 0; i < sent.length && !stopped; i++) self.onmessage({ data: sent[i] });
    };
    var fake = {
      performance: global.performance,
      postMessage: function (data) { if (queue.push(data) === 1) setTimeout(flush, 0); }
    };
    labCore(fake, true);
    this.postMessage = function (msg) { if (!stopped) fake.onmessage({ data: msg }); };
    this.terminate = function () { fake.onmessage({ data: { cmd: "pause" } }); stopped = true; };
  }

  // -- the page ----------------------------------------------------------------------------------
  var STYLE = [
    ".wgan-lab{font-size:14px;line-height:1.35;max-width:100%;box-sizing:border-box;margin:0.5em 0}",
    ".wgan-lab *{box-sizing:border-box}",
    ".wgan-lab-controls{display:flex;flex-wrap:wrap;gap:4px 14px;margin:0 0 6px 0}",
    ".wgan-lab-controls label{display:flex;align-items:center;gap:6px;flex:1 1 170px;min-width:0;max-width:100%}",
    ".wgan-lab-controls label>span.wgan-lab-name{flex:0 0 auto;min-width:5.2em}",
    ".wgan-lab-controls select,.wgan-lab-controls input[type=range]{flex:1 1 auto;min-width:0;max-width:100%}",
    ".wgan-lab-controls input[type=number]{width:5em}",
    ".wgan-lab-controls output{flex:0 0 3.6em;font-family:monospace;font-size:13px}",
    ".wgan-lab-checks{display:flex;flex-wrap:wrap;gap:2px 16px;margin:0 0 6px 0}",
    ".wgan-lab-checks label{display:flex;align-items:center;gap:5px}",
    ".wgan-lab-buttons{display:flex;flex-wrap:wrap;gap:6px;margin:0 0 6px 0}",
    ".wgan-lab-buttons button{font:inherit;padding:3px 12px;border:1px solid #888;border-radius:4px;background:#f4f4f4;color:#111;cursor:pointer}",
    ".wgan-lab-buttons button:focus-visible,.wgan-lab select:focus-visible,.wgan-lab input:focus-visible{outline:2px solid #1f77b4;outline-offset:1px}",
    ".wgan-lab-views{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}",
    ".wgan-lab-views canvas{display:block;max-width:100%;background:#fff}",
    ".wgan-lab-readout{font-family:monospace;font-size:13px;white-space:pre-wrap;margin:4px 0;min-height:2.7em}",
    ".wgan-lab-key{font-size:12px;color:#444;margin:2px 0}",
    ".wgan-lab-key b.r{color:#1f77b4}.wgan-lab-key b.g{color:#d62728}"
  ].join("\n");

  var CHOICES = {
    dataset: [["8gaussians", "8 Gaussians"], ["25gaussians", "25 Gaussians"], ["swissroll", "swiss roll"]],
    loss: [["gan", "GAN (non-saturating)"], ["wgan-clip", "WGAN, weight clipping"],
           ["wgan-gp", "WGAN-GP (Algorithm 1)"], ["wgan-gp-one-sided", "WGAN-GP, one-sided"]],
    beta1: [[0, "0"], [0.5, "0.5"]],
    beta2: [[0.9, "0.9"], [0.999, "0.999"]],
    batch: [[16, "16"], [32, "32"], [64, "64"], [128, "128"], [256, "256"]],
    width: [[8, "8"], [16, "16"], [32, "32"], [64, "64"], [128, "128"]]
  };
  var LADDERS = {  // log-spaced values of the sliders
    lam: [0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100],
    clip: [0.001, 0.003, 0.01, 0.03, 0.1],
    lr: [1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 4e-3, 1e-2],
    nCritic: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
  };
  var LABELS = {
    dataset: "data", loss: "loss", lam: "λ", clip: "clip c", nCritic: "n_critic", lr: "lr", beta1: "Adam β₁",
    beta2: "Adam β₂", batch: "batch", width: "critic width"
  };
  var EXTENT = 2;  // the picture shows [-2, 2] x [-2, 2], as Chapter 6's figures
  var VIRIDIS = [[68, 1, 84], [72, 40, 120], [62, 73, 137], [49, 104, 142], [38, 130, 142], [31, 158, 137],
                 [53, 183, 121], [110, 206, 88], [253, 231, 37]];
  var LEVELS = 16;
  var PALETTE = (function () {  // viridis at LEVELS levels, 55 % over white (as plots.plot_critic)
    var out = [];
    for (var k = 0; k < LEVELS; k++) {
      var t = k / (LEVELS - 1) * (VIRIDIS.length - 1), i = Math.min(Math.floor(t), VIRIDIS.length - 2), u = t - i, rgb = [];
      for (var c = 0; c < 3; c++) rgb.push(Math.round(255 * 0.45 + 0.55 * (VIRIDIS[i][c] * (1 - u) + VIRIDIS[i + 1][c] * u)));
      out.push(rgb);
    }
    return out;
  })();
  var counter = 0;

  function fmt(x) {
    if (x === 0) return "0";
    if (!isFinite(x)) return "–";
    var a = Math.abs(x);
    if (a >= 100) return x.toFixed(0);
    if (a >= 0.01) return String(+x.toPrecision(3));
    return x.toExponential(1).replace("e-", "e−");
  }

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "style") e.style.cssText = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { e.appendChild(c); });
    return e;
  }

  function Lab(root, options) {
    this.root = root;
    this.uid = root.id || ("wgan-lab-" + (++counter));
    this.cfg = {};
    for (var key in core.DEFAULTS) this.cfg[key] = core.DEFAULTS[key];
    for (key in options || {}) if (key !== "autoplay") this.cfg[key] = options[key];
    this.frames = 0;
    this.order = 0;  // Play and Pause presses, numbered: the worker echoes the last it heard
    this.state = null;
    this.history = [];
    this.quality = null;
    this.pending = false;
    this.fixedLatents = new core.Rng(2017).normals(new Float64Array(2 * 300));
    this.build();
    this.start(options && options.autoplay);
  }

  Lab.prototype.build = function () {
    var self = this, root = this.root, uid = this.uid;
    if (!document.getElementById("wgan-lab-style")) {
      document.head.appendChild(el("style", { id: "wgan-lab-style", text: STYLE }));
    }
    var note = root.querySelector(".wgan-lab-note");
    if (note) note.remove();
    this.controls = {};
    var row = el("div", { class: "wgan-lab-controls" });
    function add(name, control, output) {
      control.id = uid + "-" + name;
      var label = el("label", { for: control.id }, [el("span", { class: "wgan-lab-name", text: LABELS[name] }), control]);
      if (output) label.appendChild(output);
      row.appendChild(label);
      self.controls[name] = control;
    }
    ["dataset", "loss"].forEach(function (name) {
      var s = el("select");
      CHOICES[name].forEach(function (c) { s.appendChild(el("option", { value: c[0], text: c[1] })); });
      add(name, s);
    });
    ["lam", "clip", "nCritic", "lr"].forEach(function (name) {
      var out = el("output", { "aria-live": "off" });
      var r = el("input", { type: "range", min: 0, max: LADDERS[name].length - 1, step: 1 });
      add(name, r, out);
      self.controls[name].output = out;
    });
    ["beta1", "beta2", "batch", "width"].forEach(function (name) {
      var s = el("select");
      CHOICES[name].forEach(function (c) { s.appendChild(el("option", { value: String(c[0]), text: c[1] })); });
      add(name, s);
    });
    var seed = el("input", { type: "number", min: 0, max: 999999, step: 1 });
    seed.id = uid + "-seed";
    row.appendChild(el("label", { for: seed.id }, [el("span", { class: "wgan-lab-name", text: "seed" }), seed]));
    this.controls.seed = seed;

    var checks = el("div", { class: "wgan-lab-checks" });
    [["decay", "lr decays to 0 over " + this.cfg.steps.toLocaleString("en") + " steps"],
     ["hold", "hold the generator (train the critic alone)"]].forEach(function (c) {
      var box = el("input", { type: "checkbox", id: uid + "-" + c[0] });
      checks.appendChild(el("label", { for: box.id }, [box, el("span", { text: c[1] })]));
      self.controls[c[0]] = box;
    });

    var buttons = el("div", { class: "wgan-lab-buttons", role: "group", "aria-label": "training" });
    this.playButton = el("button", { type: "button", "aria-pressed": "false", class: "wgan-lab-play", text: "Play" });
    this.stepButton = el("button", { type: "button", class: "wgan-lab-step", text: "One step" });
    this.resetButton = el("button", { type: "button", class: "wgan-lab-reset", text: "Reset" });
    [this.playButton, this.stepButton, this.resetButton].forEach(function (b) { buttons.appendChild(b); });

    this.picture = el("canvas", { role: "img", class: "wgan-lab-picture" });
    this.curves = el("canvas", { role: "img", class: "wgan-lab-curves",
      "aria-label": "curves against the step: the critic's estimate W-hat, the mean gradient norm at the interpolates, the penalty" });
    var key = el("div", { class: "wgan-lab-key" });
    key.innerHTML = "<b class=r>●</b> real &nbsp; <b class=g>●</b> generated &nbsp; colours: the critic's value f, arrows: ∇f";
    var left = el("div", { style: "max-width:100%" }, [this.picture, key]);
    var views = el("div", { class: "wgan-lab-views" }, [left, this.curves]);
    this.readout = el("div", { class: "wgan-lab-readout", role: "status", "aria-live": "polite" });
    var body = el("div", { class: "wgan-lab-body" }, [row, checks, buttons, this.readout, views]);
    root.appendChild(body);
    this.showConfig();

    var live = { lam: 1, clip: 1, nCritic: 1, lr: 1, beta1: 1, beta2: 1, batch: 1, decay: 1, hold: 1 };
    Object.keys(this.controls).forEach(function (name) {
      var control = self.controls[name];
      control.addEventListener(control.type === "range" ? "input" : "change", function () {
        var value;
        if (LADDERS[name]) value = LADDERS[name][Number(control.value)];
        else if (control.type === "checkbox") value = control.checked;
        else if (name === "dataset" || name === "loss") value = control.value;
        else value = Math.max(0, Math.floor(Number(control.value) || 0));
        var change = {};
        change[name] = value;
        if (name === "loss") {  // the book's recipe for this loss (wgan_teach.experiments.METHODS)
          var recipe = core.RECIPES[value];
          for (var k in recipe) change[k] = recipe[k];
        }
        self.configure(change, !live[name] && name !== "loss");
      });
    });
    this.playButton.addEventListener("click", function () { self.toggle(); });
    this.stepButton.addEventListener("click", function () { self.pause(); self.send({ cmd: "step" }); });
    this.resetButton.addEventListener("click", function () { self.reset(); });
    if (typeof ResizeObserver !== "undefined") {
      new ResizeObserver(function () { self.request(); }).observe(root);
    }
  };

  Lab.prototype.showConfig = function () {
    var cfg = this.cfg, c = this.controls;
    c.dataset.value = cfg.dataset;
    c.loss.value = cfg.loss;
    ["lam", "clip", "nCritic", "lr"].forEach(function (name) {
      var ladder = LADDERS[name], best = 0;
      for (var i = 0; i < ladder.length; i++) {
        if (Math.abs(Math.log(ladder[i] / cfg[name])) < Math.abs(Math.log(ladder[best] / cfg[name]))) best = i;
      }
      c[name].value = String(best);
      c[name].output.textContent = fmt(cfg[name]);
      c[name].setAttribute("aria-valuetext", fmt(cfg[name]));
    });
    c.beta1.value = String(cfg.beta1);
    c.beta2.value = String(cfg.beta2);
    c.batch.value = String(cfg.batch);
    c.width.value = String(cfg.width);
    c.seed.value = String(cfg.seed);
    c.decay.checked = !!cfg.decay;
    c.hold.checked = !!cfg.hold;
    var clipping = cfg.loss === "wgan-clip", penalised = cfg.loss.indexOf("wgan-gp") === 0;
    c.lam.disabled = !penalised;
    c.clip.disabled = !clipping;
    c.beta1.disabled = clipping;
    c.beta2.disabled = clipping;
  };

  Lab.prototype.start = function (autoplay) {
    var self = this;
    var receive = function (event) { self.receive(event.data); };
    this.worker = makeWorker();
    this.inWorker = !!this.worker;
    if (this.worker) {
      this.worker.onmessage = receive;
      this.worker.onerror = function () {  // a worker that cannot run: train on this thread
        self.worker.terminate();
        self.worker = new InlineTrainer(receive);
        self.inWorker = false;
        self.send({ cmd: "init", cfg: self.cfg });
        if (self.playing) self.send({ cmd: "play", order: self.order });  // Play pressed meanwhile
      };
    } else {
      this.worker = new InlineTrainer(receive);
    }
    this.send({ cmd: "init", cfg: this.cfg });
    if (autoplay) this.play();
  };

  Lab.prototype.send = function (msg) { this.worker.postMessage(msg); };
  Lab.prototype.configure = function (change, reset) {
    for (var k in change) this.cfg[k] = change[k];
    this.showConfig();
    if (reset) { this.pause(); this.history = []; }
    this.send({ cmd: "set", cfg: change, reset: !!reset });
  };
  Lab.prototype.play = function () {
    this.playing = true;
    this.playButton.textContent = "Pause";
    this.playButton.setAttribute("aria-pressed", "true");
    this.send({ cmd: "play", order: ++this.order });
  };
  Lab.prototype.pause = function () {
    if (this.playing) this.send({ cmd: "pause", order: ++this.order });
    this.playing = false;
    this.playButton.textContent = "Play";
    this.playButton.setAttribute("aria-pressed", "false");
  };
  Lab.prototype.toggle = function () { if (this.playing) this.pause(); else this.play(); };
  Lab.prototype.reset = function () { this.configure({}, true); };

  Lab.prototype.receive = function (msg) {
    if (msg.type === "error") { throw new Error("training lab: " + msg.message); }
    if (msg.type === "ran") { this.ran = msg; return; }
    if (msg.type !== "state") return;
    if (!this.root.isConnected) {  // the output was cleared or replaced (a cell run again): stop training
      this.worker.terminate();
      return;
    }
    if (msg.step < (this.state ? this.state.step : 0) || (msg.step === 0 && msg.criticSteps === 0)) {
      this.history = [];
    }
    this.state = msg;
    for (var i = 0; i < msg.log.length; i++) this.history.push(msg.log[i]);
    if (this.history.length > 4000) this.history = thin(this.history);
    // A state sent before the worker heard the last Play says "not playing" without meaning it:
    // only a state that answers the last Play, and says it stopped (the run's end), pauses.
    if (!msg.playing && this.playing && msg.order === this.order) this.pause();
    this.root.setAttribute("data-step", String(msg.step));
    this.request();
  };

  function thin(rows) {  // halve a long history: the mean of each pair of rows
    var out = [];
    for (var i = 0; i + 1 < rows.length; i += 2) {
      var a = rows[i], b = rows[i + 1], row = [b[0], b[1]];
      for (var k = 2; k < a.length; k++) row.push((a[k] + b[k]) / 2);
      out.push(row);
    }
    return out;
  }

  Lab.prototype.request = function () {
    var self = this;
    if (this.pending) return;
    this.pending = true;
    var raf = global.requestAnimationFrame || function (f) { return setTimeout(f, 16); };
    raf(function () { self.pending = false; self.draw(); });
  };

  function sizeCanvas(canvas, cssWidth, cssHeight) {
    var ratio = global.devicePixelRatio || 1;
    var w = Math.round(cssWidth * ratio), h = Math.round(cssHeight * ratio);
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    canvas.style.width = cssWidth + "px";
    canvas.style.height = cssHeight + "px";
    var ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    return ctx;
  }

  Lab.prototype.draw = function () {
    var s = this.state;
    if (!s) return;
    var began = global.performance ? global.performance.now() : Date.now();
    var available = Math.max(160, Math.floor(this.root.clientWidth || 340));
    var side = Math.min(available, 340);
    var critic = new core.Mlp(s.criticSizes, s.critic), generator = new core.Mlp(s.generatorSizes, s.generator);
    this.drawPicture(sizeCanvas(this.picture, side, side), side, critic, generator);
    var curvesWidth = available >= 2 * side + 10 ? Math.min(available - side - 10, 340) : side;
    this.drawCurves(sizeCanvas(this.curves, curvesWidth, 210), curvesWidth, 210);
    this.updateReadout();
    this.frames++;
    this.drawMs = (global.performance ? global.performance.now() : Date.now()) - began;
    this.send({ cmd: "drawn" });
    this.root.setAttribute("data-frames", String(this.frames));
  };

  Lab.prototype.drawPicture = function (ctx, side, critic, generator) {
    var cfg = this.cfg;
    // the critic's value on a grid, as filled contours: interpolated, then cut into LEVELS bands
    var n = 35, X = new Float64Array(2 * n * n), i, j;
    for (i = 0; i < n; i++) for (j = 0; j < n; j++) {
      X[2 * (i * n + j)] = -EXTENT + 2 * EXTENT * j / (n - 1);
      X[2 * (i * n + j) + 1] = EXTENT - 2 * EXTENT * i / (n - 1);
    }
    var f = core.criticField(critic, X, n * n, false).f, lo = Infinity, hi = -Infinity;
    for (i = 0; i < f.length; i++) { if (f[i] < lo) lo = f[i]; if (f[i] > hi) hi = f[i]; }
    var span = hi - lo > 1e-12 ? hi - lo : 1;
    var res = 128;  // bands interpolated on 128 x 128, then scaled smoothly to the canvas
    if (!this.field || this.field.width !== res) {
      this.field = document.createElement("canvas");
      this.field.width = this.field.height = res;
      this.fieldImage = this.field.getContext("2d").createImageData(res, res);
    }
    var data = this.fieldImage.data, scale = (n - 1) / (res - 1);
    for (var py = 0; py < res; py++) {
      var gy = py * scale, iy = Math.min(Math.floor(gy), n - 2), uy = gy - iy;
      for (var px = 0; px < res; px++) {
        var gx = px * scale, ix = Math.min(Math.floor(gx), n - 2), ux = gx - ix;
        var v = (f[iy * n + ix] * (1 - ux) + f[iy * n + ix + 1] * ux) * (1 - uy) +
                (f[(iy + 1) * n + ix] * (1 - ux) + f[(iy + 1) * n + ix + 1] * ux) * uy;
        var level = Math.min(LEVELS - 1, Math.floor((v - lo) / span * LEVELS)), rgb = PALETTE[level], at = 4 * (py * res + px);
        data[at] = rgb[0]; data[at + 1] = rgb[1]; data[at + 2] = rgb[2]; data[at + 3] = 255;
      }
    }
    this.field.getContext("2d").putImageData(this.fieldImage, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(this.field, 0, 0, side, side);
    var toPx = function (x) { return (x + EXTENT) / (2 * EXTENT) * side; };
    var toPy = function (y) { return (EXTENT - y) / (2 * EXTENT) * side; };

    // the gradient field: a unit gradient spans two thirds of the spacing, capped at norm 2
    var m = 15, A = new Float64Array(2 * m * m);
    for (i = 0; i < m; i++) for (j = 0; j < m; j++) {
      A[2 * (i * m + j)] = -EXTENT + 2 * EXTENT * (j + 0.5) / m;
      A[2 * (i * m + j) + 1] = -EXTENT + 2 * EXTENT * (i + 0.5) / m;
    }
    var g = core.criticField(critic, A, m * m, true).g, spacing = side / m;
    ctx.strokeStyle = "rgba(0,0,0,0.7)";
    ctx.fillStyle = "rgba(0,0,0,0.7)";
    ctx.lineWidth = 1;
    var shafts = new Path2D(), heads = new Path2D();  // all arrows in two paths: two draw calls
    for (i = 0; i < m * m; i++) {
      var gxv = g[2 * i], gyv = g[2 * i + 1], norm = Math.sqrt(gxv * gxv + gyv * gyv);
      if (!(norm > 0)) continue;
      var len = Math.min(norm, 2) * spacing * 2 / 3, ux2 = gxv / norm, uy2 = -gyv / norm;
      var x0 = toPx(A[2 * i]) - ux2 * len / 2, y0 = toPy(A[2 * i + 1]) - uy2 * len / 2;
      var x1 = x0 + ux2 * len, y1 = y0 + uy2 * len, head = Math.min(4, len * 0.4);
      shafts.moveTo(x0, y0); shafts.lineTo(x1, y1);
      heads.moveTo(x1, y1);
      heads.lineTo(x1 - ux2 * head - uy2 * head * 0.5, y1 - uy2 * head + ux2 * head * 0.5);
      heads.lineTo(x1 - ux2 * head + uy2 * head * 0.5, y1 - uy2 * head - ux2 * head * 0.5);
      heads.closePath();
    }
    ctx.stroke(shafts);
    ctx.fill(heads);

    // the samples: fresh real ones, generated ones at fixed latents
    if (!this.real || this.realFor !== cfg.dataset) {
      this.real = core.sampleData(cfg.dataset, 300, new core.Rng(7));
      this.realFor = cfg.dataset;
    }
    var fake = core.generate(generator, this.fixedLatents, 300);
    var dots = function (points, color) {  // one path per set: one draw call
      var path = new Path2D();
      for (var k = 0; k < points.length / 2; k++) {
        var x = toPx(points[2 * k]), y = toPy(points[2 * k + 1]);
        if (x > -3 && x < side + 3 && y > -3 && y < side + 3) { path.moveTo(x + 1.7, y); path.arc(x, y, 1.7, 0, 2 * Math.PI); }
      }
      ctx.fillStyle = color;
      ctx.fill(path);
    };
    dots(this.real, "rgba(31,119,180,0.6)");
    dots(fake, "rgba(214,39,40,0.6)");
    ctx.strokeStyle = "#666"; ctx.lineWidth = 1; ctx.strokeRect(0.5, 0.5, side - 1, side - 1);
    this.picture.setAttribute("aria-label", "the critic's values as filled contours over the square from −2 to 2, " +
      "its gradient as arrows, real samples in blue and generated samples in red, at generator step " + this.state.step);
  };

  Lab.prototype.drawCurves = function (ctx, width, height) {
    ctx.clearRect(0, 0, width, height);
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, width, height);
    var rows = this.history, hold = this.cfg.hold;
    var panels = [[2, "Ŵ = E f(x) − E f(G(z))", "#9467bd"], [3, "mean ‖∇f(x̂)‖ at the interpolates", "#2ca02c"],
                  [4, "penalty E(‖∇f(x̂)‖ − 1)²", "#ff7f0e"]];
    var h = height / 3;
    ctx.font = "11px sans-serif";
    ctx.textBaseline = "top";
    for (var p = 0; p < 3; p++) {
      var col = panels[p][0], top = p * h, lo = Infinity, hi = -Infinity, k;
      for (k = 0; k < rows.length; k++) {
        var v = rows[k][col];
        if (isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
      }
      ctx.strokeStyle = "#ccc"; ctx.strokeRect(0.5, top + 0.5, width - 1, h - 2);
      ctx.fillStyle = "#333";
      var title = panels[p][1];
      if (!isFinite(lo)) {
        ctx.fillText(title + (p === 2 && this.cfg.loss.indexOf("wgan-gp") !== 0 ? ": no penalty" : ""), 4, top + 3);
        continue;
      }
      if (hi - lo < 1e-9) { hi += 0.5; lo -= 0.5; }
      ctx.fillText(title + "   " + fmt(rows[rows.length - 1][col]), 4, top + 3);
      ctx.fillStyle = "#777";
      ctx.fillText(fmt(hi), width - 40, top + 3);
      ctx.fillText(fmt(lo), width - 40, top + h - 15);
      var x0 = rows[0][hold ? 1 : 0], x1 = rows[rows.length - 1][hold ? 1 : 0], xs = x1 > x0 ? x1 - x0 : 1;
      var yTop = top + 17, yH = h - 22;
      ctx.strokeStyle = panels[p][2]; ctx.lineWidth = 1.2;
      ctx.beginPath();
      var started = false, stride = Math.max(1, Math.floor(rows.length / (2 * width)));
      for (k = 0; k < rows.length; k += stride) {
        var value = rows[k][col];
        if (!isFinite(value)) { started = false; continue; }
        var x = 2 + (rows[k][hold ? 1 : 0] - x0) / xs * (width - 46), y = yTop + (hi - value) / (hi - lo) * yH;
        if (started) ctx.lineTo(x, y); else { ctx.moveTo(x, y); started = true; }
      }
      ctx.stroke();
    }
  };

  Lab.prototype.updateReadout = function () {
    var s = this.state, cfg = this.cfg;
    this.quality = s.quality;
    var lines = "generator step " + s.step + (cfg.hold ? " (held)" : "") + " · critic steps " + s.criticSteps +
      " · " + (s.playing ? Math.round(s.rate) : 0) + " " + (cfg.hold ? "rounds" : "steps") + "/s";
    if (core.MIXTURES[cfg.dataset] && this.quality) {
      lines += "\nmodes covered " + this.quality.modes_covered + "/" + this.quality.modes +
        " · high quality " + (100 * this.quality.high_quality).toFixed(1) + " % (2,000 samples)";
    } else lines += "\nswiss roll: no modes to count";
    if (s.finished) lines += " · done: lr reached 0";
    if (this.readout.textContent !== lines) this.readout.textContent = lines;
  };

  function mount(id, options) {
    var root = document.getElementById(id);
    if (!root) throw new Error("no element with id " + id);
    if (root.wganLab) return root.wganLab;
    var lab = new Lab(root, options || {});
    root.wganLab = lab;
    global.WganLab.instances.push(lab);
    return lab;
  }

  global.WganLab = { version: VERSION, core: core, mount: mount, instances: [], labCore: labCore, makeWorker: makeWorker };
})(typeof window !== "undefined" ? window : this);
