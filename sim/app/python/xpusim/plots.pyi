# Type stubs for xpusim.plots (matplotlib figures: timeline, utilization, roofline).
import os
import re
from typing import Any, Dict, Mapping, Optional, Sequence, Union

from matplotlib.figure import Figure

from .trace import Trace

_Path = Union[str, "os.PathLike[str]"]
_Report = Union[Mapping[str, Any], _Path]

KIND_COLORS: Dict[str, str]

def timeline(trace: Union[Trace, _Path], path: Optional[_Path] = ...,
             units: Optional[Union[str, int, re.Pattern, Sequence[Union[str, int, re.Pattern]]]] = ...,
             max_units: int = ..., kinds: Optional[Union[str, int, Sequence[Union[str, int]]]] = ...) -> Figure: ...
def utilization(trace: Union[Trace, _Path], path: Optional[_Path] = ..., bin_s: Optional[float] = ...,
                by: str = ...) -> Figure: ...
def parse_bandwidth(text: Union[str, float]) -> float: ...
def roofline(report_or_reports: Union[_Report, Sequence[_Report]], chip_peak_flops: Optional[Union[float, _Path]] = ...,
             chip_bandwidth: Optional[Union[float, str]] = ..., path: Optional[_Path] = ...,
             labels: Optional[Sequence[str]] = ..., bytes_field: str = ...) -> Figure: ...
