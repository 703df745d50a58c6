"""The seed network's shape (784 -> 100 -> 100 -> 10) and its signature, without torch.

The server needs these before (and often without) the model: the default signature and row length
decide input checks and metadata for any entry script. They live apart from scoring.model.model, which
imports torch (seconds of start-up), so a server whose entry script never uses torch never loads it.
scoring.model.model re-exports them; 784 is written here only.
"""

from __future__ import annotations

from scoring.model.signature import Signature

ROW_LENGTH = 784
HIDDEN = 100
CLASSES = 10
WEIGHTS_FILE = "mnist_mlp.npz"

# (name in the .npz / state_dict, expected shape); weights are (out, in) as nn.Linear stores them.
PARAMETER_SHAPES: dict[str, tuple[int, ...]] = {
    "fc1.weight": (HIDDEN, ROW_LENGTH),
    "fc1.bias": (HIDDEN,),
    "fc2.weight": (HIDDEN, HIDDEN),
    "fc2.bias": (HIDDEN,),
    "fc3.weight": (CLASSES, HIDDEN),
    "fc3.bias": (CLASSES,),
}

# What this network takes and gives (scoring/model/signature.py); score.py hands it to the server.
SIGNATURE = Signature(row_length=ROW_LENGTH)
