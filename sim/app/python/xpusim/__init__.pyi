import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from . import analysis as analysis
from . import plots as plots
from . import sweep_spec as sweep_spec
from . import sweeps as sweeps
from .functional import functional as functional
from .session import Session as Session
from .sweep_spec import SpecError as SpecError, load_spec as load_spec
from .sweeps import SweepError as SweepError
from .sweeps import SweepFailedWarning as SweepFailedWarning
from .trace import Trace as Trace, to_perfetto as to_perfetto

_Sets = Optional[Union[Mapping[str, Any], Sequence[str]]]

class InputError(ValueError):
    flag: Optional[str]
    value: Optional[str]
    file: Optional[str]
    key: Optional[str]

def kernel(op: str, chip: str = ..., set: _Sets = ..., functional: bool = ..., sustained: bool = ...,
           **dims: Any) -> Dict[str, Any]: ...
def run(model: str = ..., chip: Optional[str] = ..., phase: str = ..., batch: int = ..., input: int = ..., output: int = ...,
        dtype: str = ..., wdtype: Optional[str] = ..., kvdtype: Optional[str] = ..., fusion: Optional[str] = ...,
        routing: str = ..., sustained: bool = ..., set: _Sets = ..., adtype: Optional[str] = ...,
        tp: int = ..., ep: int = ..., pp: int = ..., dp: int = ..., microbatches: int = ..., system: Optional[str] = ...,
        nodes: int = ..., devices: int = ..., overlap: bool = ..., fold: bool = ..., sp: bool = ..., pad_heads: int = ...,
        after_runs: Optional[float] = ..., redundant_experts: int = ..., two_batch_overlap: bool = ...,
        neuron_buckets: int = ..., out: Optional[str] = ..., trace: bool = ...,
        trace_format: Optional[str] = ...) -> Dict[str, Any]: ...
def serve(model: str = ..., chip: Optional[str] = ..., input: Optional[Union[int, str]] = ..., output: Optional[Union[int, str]] = ...,
          dtype: str = ..., ttft_slo: Union[float, str] = ..., tpot_slo: Union[float, str] = ..., max_batch: int = ..., set: _Sets = ...,
          concurrency: Union[int, Sequence[int], None] = ..., rate: float = ..., scheduler: str = ..., requests: int = ...,
          seed: int = ..., prefix_hit: float = ..., spec_tokens: int = ..., spec_accept: Optional[float] = ..., spec_method: str = ...,
          spec_draft: str = ..., system: Optional[str] = ..., devices: int = ..., tp: int = ..., ep: int = ...,
          pp: int = ..., dp: int = ..., microbatches: int = ..., nodes: int = ..., prefill_devices: int = ...,
          decode_devices: int = ..., prefill_tp: int = ..., prefill_ep: int = ..., prefill_dp: int = ...,
          prefill_pp: int = ..., scenario_file: Optional[str] = ..., pad_heads: int = ...,
          host_fixed_us: Optional[float] = ..., host_us_per_request: Optional[float] = ...,
          redundant_experts: int = ..., prefill_redundant_experts: Optional[int] = ..., two_batch_overlap: bool = ...,
          lengths_csv: Optional[str] = ..., token_budget: Optional[int] = ..., max_seqs: Optional[int] = ...,
          cache_length: Optional[int] = ..., page_size: Optional[int] = ..., sp: bool = ..., overlap: bool = ..., dp_dispatch: Optional[str] = ...,
          out: Optional[str] = ..., trace: bool = ..., trace_format: Optional[str] = ...) -> Dict[str, Any]: ...
COMPARE_CHIPS: Tuple[str, ...]
def compare(chips: Optional[Union[str, Sequence[str]]] = ..., model: Optional[str] = ..., scenario: Optional[str] = ...,
            input: Optional[Union[int, str]] = ..., output: Optional[Union[int, str]] = ..., dtype: Optional[str] = ...,
            ttft_slo: Optional[Union[float, str]] = ..., tpot_slo: Optional[Union[float, str]] = ...,
            max_batch: Optional[int] = ..., set: _Sets = ..., tco: bool = ..., tiers: Optional[Sequence[float]] = ...,
            prefix_hit: Optional[float] = ..., spec_tokens: int = ..., spec_accept: Optional[float] = ...,
            spec_method: Optional[str] = ..., spec_draft: Optional[str] = ..., jobs: int = ...,
            host_fixed_us: Optional[float] = ..., host_us_per_request: Optional[float] = ...,
            concurrency: Optional[Union[int, Sequence[int]]] = ..., rate: float = ..., requests: int = ...,
            scheduler: Optional[str] = ..., seed: Optional[int] = ..., study: Optional[str] = ...,
            lengths_csv: Optional[str] = ..., token_budget: Optional[int] = ..., max_seqs: Optional[int] = ...,
            cache_length: Optional[int] = ..., page_size: Optional[int] = ..., name: Optional[str] = ..., out: Optional[str] = ...,
            no_report: bool = ..., dp_dispatch: Optional[str] = ...) -> Union[Dict[str, Any], List[Dict[str, Any]]]: ...
def chip_config(chip: str = ..., set: _Sets = ...) -> str: ...
def list_chips() -> List[str]: ...
def collective(op: str = ..., system: str = ..., bytes: Union[str, int] = ..., algo: str = ..., proto: str = ...,
               nodes: int = ..., set: Optional[Union[Mapping[str, str], Sequence[str]]] = ...,
               stack: Optional[str] = ..., rows: Optional[int] = ..., out: Optional[str] = ..., trace: bool = ...,
               trace_format: Optional[str] = ...) -> Dict[str, Any]: ...
def list_systems() -> List[str]: ...
def system_config(system: str = ..., set: Optional[Union[Mapping[str, str], Sequence[str]]] = ...,
                  nodes: int = ...) -> str: ...
def list_models() -> List[str]: ...
def list_ops() -> List[str]: ...
def sweep(spec: Union[str, "os.PathLike[str]", Mapping[str, Any]], client: Any = ..., out: Optional[str] = ...,
          jobs: Optional[int] = ..., progress: bool = ..., report: bool = ...) -> pd.DataFrame: ...
