from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from . import plots as plots
from .functional import functional as functional
from .session import Session as Session
from .trace import Trace as Trace, to_perfetto as to_perfetto

class InputError(ValueError): ...

def kernel(op: str, chip: str = ..., set: Optional[Union[Mapping[str, str], Sequence[str]]] = ...,
           functional: bool = ..., sustained: bool = ..., **dims: Any) -> Dict[str, Any]: ...
def list_chips() -> List[str]: ...
def collective(op: str = ..., system: str = ..., bytes: Union[str, int] = ..., algo: str = ..., proto: str = ...,
               nodes: int = ..., set: Optional[Union[Mapping[str, str], Sequence[str]]] = ...) -> Dict[str, Any]: ...
def list_systems() -> List[str]: ...
