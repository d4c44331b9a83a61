"""Optimisers racing on a 2-D loss surface: plain numpy, one function per update rule.

The surface is an elongated, tilted valley (a Rosenbrock-like banana) where plain gradient descent
zig-zags and adaptive methods take different paths; every optimiser starts at the same point with its
usual learning rate for this surface. Adam with L2 regularisation and AdamW (decoupled weight decay,
Loshchilov & Hutter 2019) differ only in where the weight decay enters, which the race shows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model_core import InputError

START = (-1.6, 1.8)
OPTIMISERS = ("SGD", "Adagrad", "RMSProp", "Adam", "Adam + L2", "AdamW")
# Each optimiser's learning rate on this surface: tried at a few values (200 steps) and kept where it
# gets close to the minimum without diverging, so the race compares the paths, not bad settings.
LEARNING_RATES = {"SGD": 0.01, "Adagrad": 0.5, "RMSProp": 0.025, "Adam": 0.05, "Adam + L2": 0.05, "AdamW": 0.05}
EPS = 1e-8


def loss(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """f(x, y) = (1 - x)^2 + 5 (y - x^2)^2: a curved valley with its minimum 0 at (1, 1)."""
    return (1 - x) ** 2 + 5 * (y - x ** 2) ** 2


def gradient(p: np.ndarray) -> np.ndarray:
    x, y = p
    return np.array([-2 * (1 - x) - 20 * x * (y - x ** 2), 10 * (y - x ** 2)])


@dataclass(frozen=True)
class Race:
    paths: dict[str, np.ndarray]        # optimiser -> [step + 1, 2] positions, the start first
    losses: dict[str, np.ndarray]       # optimiser -> [step + 1] loss along the path
    weight_decay: float
    learning_rates: dict[str, float]


def race(steps: int = 200, weight_decay: float = 0.1, scale: float = 1.0) -> Race:
    """Run every optimiser ``steps`` steps from START; ``scale`` multiplies every learning rate.

    Updates (g the gradient, t the step from 1, beta1 0.9, beta2 0.999, RMSProp rho 0.9):
      SGD       p -= lr g
      Adagrad   G += g^2;                  p -= lr g / (sqrt(G) + eps)
      RMSProp   s = rho s + (1-rho) g^2;   p -= lr g / (sqrt(s) + eps)
      Adam      m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr m^ / (sqrt(v^) + eps), m^, v^ bias-corrected
      Adam + L2 Adam on g + wd p (the decay goes through the adaptive scaling)
      AdamW     Adam on g, then p -= lr wd p (decoupled)
    """
    if not 1 <= int(steps) <= 2000:
        raise InputError("Choose between 1 and 2000 steps.")
    if not 0 < scale <= 10:
        raise InputError("The learning-rate factor must be above 0 and at most 10.")
    paths, losses, rates = {}, {}, {}
    for name in OPTIMISERS:
        lr = LEARNING_RATES[name] * scale
        rates[name] = lr
        p = np.array(START, dtype=np.float64)
        m = np.zeros(2)
        v = np.zeros(2)
        points = [p.copy()]
        for t in range(1, int(steps) + 1):
            g = gradient(p)
            if name == "Adam + L2":
                g = g + weight_decay * p
            if name == "SGD":
                p = p - lr * g
            elif name == "Adagrad":
                v = v + g ** 2
                p = p - lr * g / (np.sqrt(v) + EPS)
            elif name == "RMSProp":
                v = 0.9 * v + 0.1 * g ** 2
                p = p - lr * g / (np.sqrt(v) + EPS)
            else:
                m = 0.9 * m + 0.1 * g
                v = 0.999 * v + 0.001 * g ** 2
                m_hat, v_hat = m / (1 - 0.9 ** t), v / (1 - 0.999 ** t)
                p = p - lr * m_hat / (np.sqrt(v_hat) + EPS)
                if name == "AdamW":
                    p = p - lr * weight_decay * p
            p = np.clip(p, -3.0, 3.0)                      # a diverging optimiser stays on the drawing
            points.append(p.copy())
        path = np.array(points)
        paths[name] = path
        losses[name] = loss(path[:, 0], path[:, 1])
    return Race(paths=paths, losses=losses, weight_decay=float(weight_decay), learning_rates=rates)


def surface(n: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The loss on a grid over the drawing: (xs [n], ys [n], log10(1 + loss) [n, n] with rows = ys)."""
    xs = np.linspace(-2.0, 2.0, n)
    ys = np.linspace(-1.0, 3.0, n)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.log10(1 + loss(gx, gy))
