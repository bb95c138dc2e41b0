# Type stubs for xpusim.sweep_spec (sweep specs: parsing, checking, expansion).
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple, Union

STUDIES: Tuple[str, ...]

class SpecError(ValueError):
    file: str
    line: int
    key: str
    message: str
    def __init__(self, file: str, line: int, key: str, message: str) -> None: ...

class Axis:
    key: str
    name: str
    values: List[Any]
    unit: str
    kind: str
    base: Any
    def setting(self, value: Any) -> Any: ...

class Point:
    index: int
    id: str
    values: Dict[str, Any]
    args: Dict[str, Any]
    sets: List[str]
    dropped: Optional[str]
    def task(self, study: str) -> Dict[str, Any]: ...
    def key(self, study: str) -> str: ...

class Spec:
    study: str
    name: str
    base: Dict[str, Any]
    base_set: Dict[str, Any]
    groups: List[List[Axis]]
    axes: List[Axis]
    metrics: Dict[str, Tuple[str, str]]
    design: str
    report: Dict[str, Any]
    points: List[Point]
    @property
    def file(self) -> str: ...
    def sim_hash(self) -> str: ...

def load_doc(spec: Union[str, "os.PathLike[str]", Mapping[str, Any]]) -> Any: ...
def load_spec(spec: Union[str, "os.PathLike[str]", Mapping[str, Any]]) -> Spec: ...
def parse_quantity(value: Any) -> Tuple[Optional[Union[int, float]], Optional[str]]: ...
def metric_unit(path: str) -> str: ...
def study_arguments(study: str) -> Set[str]: ...
def preset_keys(chip: str) -> Set[str]: ...
def system_keys(system: str) -> Set[str]: ...
def ident(name: str) -> str: ...
def resolve_path(report: Any, path: str) -> Any: ...
def leaf_paths(report: Any, prefix: str = ...) -> List[str]: ...
def preset_text(value: Any) -> str: ...
