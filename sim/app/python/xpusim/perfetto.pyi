# Type stubs for xpusim.perfetto (Chrome / Perfetto JSON export).
import os
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

import numpy.typing as npt

from .trace import Trace

_Path = Union[str, "os.PathLike[str]"]
_Power = Union[Tuple[npt.ArrayLike, npt.ArrayLike], Mapping[str, Any]]

def to_perfetto(trace: Union[Trace, _Path, Sequence[Union[Trace, _Path]]], path: _Path,
                max_events: Optional[int] = ..., bin_s: Optional[float] = ...,
                power: Optional[Union[_Power, Sequence[Optional[_Power]]]] = ...,
                counters: bool = ..., kernel_track: bool = ...) -> int: ...
def main(argv: Optional[List[str]] = ...) -> int: ...
