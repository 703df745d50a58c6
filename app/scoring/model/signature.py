"""What a model takes and gives, as the entry script declares it: the one place the server learns the
input's name, row length and accepted dtypes and the output's name and type.

An entry script may define `signature` (a Signature) or `signature()` returning one; without it the
server uses the default model's (scoring.model.model.SIGNATURE). The protocol modules derive the v2
metadata, the swagger document and the input checks from it; the batcher never needs it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Open Inference Protocol datatype names and the numpy dtypes they arrive as (little-endian on the wire).
DATATYPES: dict[str, np.dtype[np.generic]] = {"FP32": np.dtype("<f4"), "UINT8": np.dtype("u1")}


@dataclass(frozen=True)
class Signature:
    row_length: int
    input_name: str = "input"
    # Accepted input datatypes; the first is the one advertised as the input's datatype.
    input_datatypes: tuple[str, ...] = ("FP32", "UINT8")
    output_name: str = "label"
    output_datatype: str = "INT64"

    def __post_init__(self) -> None:
        if self.row_length < 1:
            raise ValueError(f"signature row_length must be at least 1, got {self.row_length}")
        unknown = [d for d in self.input_datatypes if d not in DATATYPES]
        if unknown or not self.input_datatypes:
            raise ValueError(f"signature input_datatypes {self.input_datatypes} must be among {sorted(DATATYPES)}")
