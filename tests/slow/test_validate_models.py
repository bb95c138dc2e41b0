"""Model-level validation on systems of chips (`xpusim validate --models`), behind the CTest label
`slow` (minutes of simulation; `.ci/run` runs it). Rows: workloads/validation/public_measurements.csv,
original sources in its `source` column (TensorRT-LLM perf-overview tables for Llama-3.3-70B at TP1..TP8
and Llama-3.1-405B at TP8 on H100, the same tables' H200 FP8 and B200 NVFP4 rows, MLPerf Llama-2-70B Offline on H100/H200/B200, AWS Neuron's trn1 TP32 and inf2 TP24 latency tables of Neuron 2.18 for
Llama-2-7b/13b/70b, Llama-3-70B, Llama-3-8B (int8 weights), Mistral-7B-Instruct-v0.2 and CodeLlama-13b;
AWS's NxD Inference tutorial tables on trn2.48xlarge (Llama-3.3-70B, Llama-3.1-405B, batch 1) and sglang-jax's
cookbook speed tables on TPU v6e-4 and v6e-16 (Llama-3.1-8B, Llama-3.3-70B); TensorRT-LLM MoE rows: Mixtral-8x7B FP8 at
TP2/4/8 on H100/H200 (v0.14 page) and Qwen3-30B-A3B NVFP4 on one B200 (v1.0 page)).

Bound (issue 13): each expressible row within 25%. Rows that miss it today are known gaps, listed by id
with their reason and held to their own bound so that they cannot grow unnoticed; the test fails when
one of them comes within 25% (then it leaves the list). Every row that is not expressed must say why."""
import json
import os
import subprocess

BUILD = os.environ.get("XPUSIM_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
EXE = os.path.join(BUILD, "xpusim")

NEURON_TTFT = ("Neuron's measured context encoding runs at 15-17% of the chips' 190 TFLOPS bf16 peak on both "
               "instances (287 TFLOP in 547 ms on 16 trn1, 282 TFLOP in 810 ms on 12 inf2). Attention now runs as "
               "transformers-neuronx builds it below its 4096-token flash threshold (layers/attention.py "
               "flash_attention(); --impl transformers-neuronx, lowering.tnx_flash_min_tokens): the full S x S scores "
               "materialized and, at 2048 tokens (16 MiB per core on trn1, 24 MiB on inf2, above half of SBUF), moved "
               "through HBM by each op of the softmax chain: 181 -> 688 us per layer on trn1 (HBM 97% busy), M21 -33.8% "
               "-> -26.4%, M25 -51.1% -> -43.5%. Its 161 all-reduces of 32 MiB are bound by the collective engine's "
               "56.7 GB/s per rank (nccom-test's 2-rank all-reduce, 1 GiB / 18930 us; library.engine_bandwidth; M21 "
               "-26.4% -> -28.8% and M25 -43.5% -> -45.1% when the figure was corrected from the guide's GiB/s 52.8): "
               "1.1 ms each, half of the "
               "trn1 prefill. M21 and M25 ran different samples (Llama-3-70B with attention_layout BSH, Llama-2-70b with "
               "the default HSB); on the same Llama-2-70b sample and release inf2 is 1.17x trn1 (810 vs 691 ms) against "
               "1.14x simulated, so no trn1/inf2 difference is missing. What is missing grows from 1024 to 2048 prompt "
               "tokens: x2.97 (trn1) and x2.93 (inf2) measured against x2.15 and x2.22 simulated, and what the simulation "
               "misses beyond twice the 1024-token time is nearly equal on both (198 and 211 ms), unlike their attention "
               "or GEMM work per core (1.5x, 1.33x); at 128-1024 tokens "
               "the simulation is -19..-35% on the same tables. The TPOT rows of the same requests (M22, M26) are within 13%. Not "
               "bucket padding (transformers-neuronx's default context buckets reach 2048 at 4096 positions)")
# AWS Neuron's whole 2.18 latency tables (rows NRT-* on trn1 TP32, NRI-* on inf2 TP24; README "Parallel
# inference", 2026-12-02). Their TTFT is predicted fast at every prompt length and model; the runtime's mesh
# all-reduce with its fixed cost per collective (2026-12-03) brought the 70B short prompts within 25%; the rest
# has no mechanism in the stack's source (buckets: the tables' prompts equal their buckets); the release's attention
# without a flash kernel (2026-12-03) brought inf2's 4096-8192-token prompts within 25%.
NEURON_SHORT_TTFT = ("TTFT of a 128-1024-token prompt predicted fast on both instances. On inf2 the measured TTFT at "
                     "128 tokens is a near-constant 26-29 ms for every 7-13B model (Llama-2-7b 27.6/29.2, Llama-2-13b "
                     "25.9, CodeLlama-13b 27.0, Mistral-7B 27.3 ms) while the simulated context encoding scales with "
                     "the model (10-15 ms); on trn1 the 128-token TTFT is about two decode steps (70B 53-58 ms against "
                     "a 25 ms TPOT, 7B 13.3 against 6.7). A per-request cost that does not scale with the model, not "
                     "sourced: the prompt is not padded (128 and 256 are context buckets, bucket.py context_sizes) and "
                     "adding one decode step to the TTFT fits some rows and not others (trn1 70B +19%, inf2 7B -34%)")
NEURON_LONG_TTFT = ("TTFT of a 4096-8192-token prompt of a 7-13B model on trn1. Since 2026-12-03 these prompts run "
                    "attention as the tables' release builds it: transformers-neuronx 0.10 (Neuron 2.18) has no flash "
                    "kernel (added in 0.11.351.0, Neuron 2.19, release notes), so the S x S scores go through HBM between "
                    "the softmax ops; that brought inf2's 13B and Mistral 8192 rows within 25% (-35..-53% -> -9..-18%, "
                    "+10%), trn1's only to -65..-70%. On trn1 the table is 2.4-2.6x inf2 for the same model, sample and "
                    "release (Llama-2-13b 864 vs 334 ms at 4096, 2368 vs 994 at 8192; Mistral 1323 vs 540 at 8192) with "
                    "16 chips against 12 and no more heads per core (Mistral: fewer), while the simulation gives trn1 "
                    "about equal to inf2 (299 vs 304 ms, 808 vs 818) and the 70B rows are faster on trn1 in both (691 vs "
                    "810 ms measured). What trn1 misses (565 ms at 4096, 1560 at 8192, Mistral 926) grows between the "
                    "all-reduce volume and the attention's; no trn1-specific mechanism is published. These are the rows "
                    "whose own columns disagree (2026-12-05): the table's output-token throughput gives a request time "
                    "(out / throughput) 27 s (4096+4096), 149 s (8192+8192) and 82 s (Mistral) longer than TTFT + "
                    "(out - 1) x TPOT, while every 70B row of both tables agrees within 1%")
NEURON_INF2_MISTRAL = ("inf2's Mistral-7B takes longer at 4096 tokens (558 ms) than at 8192 (540, NRI-25) on "
                       "the same sample and release: the rows were not all built alike (the CodeLlama sample compiles "
                       "with NEURON_CC_FLAGS=-O1 and its own context_length_estimate, the Llama-2-13b sample without), "
                       "which the table does not state; its throughput column gives a request time 18 s longer than "
                       "TTFT + (out - 1) x TPOT (81.7 against 125.0 tok/s), the one inf2 row whose columns disagree")
NEURON_SHORT_TTFT_2 = (" Since 2026-12-05 a model step's collectives pay the in-graph launch (2 us, not nccom-test's 52 us "
                       "per collective), which takes 2.4-8 ms more off these already-fast prompts (trn1 70B 160 "
                       "all-reduces per context encoding)")
NEURON_INF2_LONG_TTFT = ("TTFT of a 4096-8192-token prompt of a 13B model or Mistral on inf2 predicted slow since 2026-12-05, "
                         "when trn1/inf2's DMA engines took [NKI-DMABW]'s sustained 17 B/ns (272 GB/s per core, against the "
                         "27.2 GB/s peak): the HLO graph's S x S scores (no flash kernel before Neuron 2.19) go through HBM "
                         "between the softmax ops at that rate (NRI-07 -4.5% -> +26.6%, NRI-25 +13.9% -> +39.7%), while "
                         "the same prompts on trn1 stay 57-60% fast: the tables put trn1 at 2.4-2.6x inf2 for the same "
                         "model, sample and release, the simulation about equal (see NEURON_LONG_TTFT). Session 33's "
                         "TensorE sustained rate (tensor.moving_efficiency 0.857, sourced on trn1's matmul kernels: "
                         "TRN1-MM1, NKB-TMM) adds about a point (NRI-07 +27.5%, NRI-25 +40.6%) and takes CodeLlama-13b's "
                         "in4096 (NRI-29) from +24.7% to +25.7%")
# nrn38 (2026-12-06): the Trainium GEMM lowering no longer takes the NKI tutorial's SBUF-accumulating blocks where
# their VectorE accumulation binds the kernel (kernels/gemm/trainium.cpp accumulation_bound). Llama-2-13b's down
# projection per inf2 chip (K = 1152 = 9 x 128) had 128-deep K blocks and ran at 6.5x its roofline: inf2's 13B
# long prompts came within 25% (NRI-07 +27.4 -> +12.1%, NRI-29 +25.6 -> +10.5%) and left this list.
NEURON_GEMM_PLAN = (" Since 2026-12-06 (nrn38) a GEMM whose K only 128 or 256 divides among the NKI tutorial's K blocks "
                    "keeps the PSUM plan instead of an SBUF accumulation bound by VectorE, which takes a few more "
                    "ms off these already-fast prompts (the down projection per trn1 chip at TP16: K 1792 for Llama-2-70b, "
                    "73.8 -> 39.6 ms over 80 layers at 2048 tokens; K 896 for Mistral at 8192 tokens, 57.8 -> 18.9 ms)")
NEURON_INT8_TPOT = ("Llama-3-8B with int8 weights, trn1 TPOT at 4096 positions predicted fast (-25.6%; -22% at 8192): the "
                    "measured int8 step (5.86 ms) is about that of bf16 Llama-2-7b on the same instance though it streams "
                    "about 40% fewer weight bytes, so the int8 conversion costs the measured stack more than the lane "
                    "engine's pass the model gives it (GpSimd, not published; README 'Weight-only int8 on Trainium'); "
                    "since 2026-12-05 the in-graph all-reduce took 1.6 ms off its step")
# id -> (bound, reason); the figure after each is the row's error on 2026-12-05 after transformers-neuronx's
# token-graph attention, the in-graph collective launch and trn1/inf2's sustained DMA rate (README "Parallel
# inference", 2026-12-05: the 70 Neuron rows' MAE 21.7% -> 21.3%, TPOT 14.3% -> 11.8%, TTFT 29.2% -> 30.9%).
# The short-prompt TTFT bounds were loosened that day, with the reason in NEURON_SHORT_TTFT_2.
KNOWN_GAPS = {
    "M25": (0.33, "TTFT of a 2k prompt at TP24 on inf2: " + NEURON_TTFT),  # -29.8%
    "NRT-01": (0.58, "Llama-3-8B int8 weights, trn1 TTFT in128: " + NEURON_SHORT_TTFT + NEURON_SHORT_TTFT_2),  # -54.7%
    "NRT-05": (0.51, "Llama-3-8B int8 weights, trn1 TTFT in128: " + NEURON_SHORT_TTFT + NEURON_SHORT_TTFT_2),  # -47.5%
    "NRT-06": (0.29, NEURON_INT8_TPOT),  # -25.6%
    "NRT-11": (0.40, "Llama-2-7b, trn1 TTFT in128: " + NEURON_SHORT_TTFT + NEURON_SHORT_TTFT_2),  # -36.4%
    "NRT-13": (0.61, "Llama-2-13b, trn1 TTFT in4096: " + NEURON_LONG_TTFT),  # -57.8%
    "NRT-15": (0.60, "Llama-2-13b, trn1 TTFT in8192: " + NEURON_LONG_TTFT),  # -57.1%
    "NRT-27": (0.34, "Llama-2-70b, trn1 TTFT in2048: " + NEURON_TTFT + NEURON_GEMM_PLAN),  # -32.2% (-29.3% before nrn38)
    "NRT-29": (0.64, "Mistral-7B-Instruct-v0.2, trn1 TTFT in8192: " + NEURON_LONG_TTFT + NEURON_GEMM_PLAN),  # -63.0% (-60.0%)
    "NRT-31": (0.61, "CodeLlama-13b-hf, trn1 TTFT in4096: " + NEURON_LONG_TTFT),  # -58.0%
    "NRT-33": (0.60, "CodeLlama-13b-hf, trn1 TTFT in8192: " + NEURON_LONG_TTFT),  # -57.2%
    "NRI-01": (0.69, "Llama-2-7b, inf2 TTFT in128: " + NEURON_SHORT_TTFT + NEURON_SHORT_TTFT_2),  # -65.7%
    "NRI-03": (0.71, "Llama-2-7b, inf2 TTFT in128: " + NEURON_SHORT_TTFT + NEURON_SHORT_TTFT_2),  # -67.5%
    "NRI-05": (0.42, "Llama-2-13b, inf2 TTFT in128: " + NEURON_SHORT_TTFT + NEURON_SHORT_TTFT_2),  # -38.5%
    "NRI-21": (0.66, "Mistral-7B-Instruct-v0.2, inf2 TTFT in128: " + NEURON_SHORT_TTFT + NEURON_SHORT_TTFT_2),  # -62.1%
    "NRI-23": (0.56, "Mistral-7B-Instruct-v0.2, inf2 TTFT in4096: " + NEURON_INF2_MISTRAL),  # -53.0%
    "NRI-25": (0.43, "Mistral-7B-Instruct-v0.2, inf2 TTFT in8192: " + NEURON_INF2_LONG_TTFT),  # +40.6% (+39.7% before session 33)
    "NRI-27": (0.45, "CodeLlama-13b-hf, inf2 TTFT in128: " + NEURON_SHORT_TTFT + NEURON_SHORT_TTFT_2),  # -41.1%
}
# TensorRT-LLM v0.20's perf-overview on B200 (rows TRB-*, NVFP4 checkpoints; README "Parallel inference",
# 2026-12-05): every row over-predicted (+14..+47%, MAE 25.1%; 28.1% before the NVFP4 block scales travelled
# with the GEMM tiles, branch bw31) by the same runner and kernel structure that puts the H200 FP8 rows of the
# same tables within 7.3% (TRH-*, MAE 3.8%) and the H100 rows within 15.3%.
B200_FP4 = ("B200 NVFP4 trtllm-bench row over-predicted by the runner that holds H100/H200 FP8 within 15%: "
            "the model's fp4 GEMMs at the M of these steps (hundreds to a few thousand rows) are faster than "
            "public B200 fp4 GEMMs (kernel rows FI-B4608 +10%; DGF4, run as DeepGEMM times and tiles them, +13..+42% "
            "at M128-512 N2048-7168, within 10% from M1024 or at K1536); what costs the real kernels at small M is "
            "only partly located (README 'Why the B200 NVFP4 rows are fast', 'The DeepGEMM rows as DeepGEMM times "
            "and tiles them'); the FP8 KV cache is TensorRT-LLM's own for these checkpoints; checked and not the "
            "cause (README 'What a B200 NVFP4 serving step costs'): the decode attention (trtllm-gen, within 2% of "
            "vLLM PR #19825's B200 timings), the serving engine's CUDA-graph padding and host, the NVFP4 block "
            "scales' memory (now held: 1-5% fewer requests fit)")
B200_TP2 = ("; at TP2 besides: its pure-decode iterations (up to 640 rows, 10.5 MB all-reduces) run TensorRT-LLM's own "
            "two-shot all-reduce kernel (AUTO below the 16 MB workspace at two ranks), which the model runs since "
            "2026-12-06 (kernels/collective/custom_allreduce.cpp: 27.0 us per 10.5 MB at the link rate, with its staging "
            "copies, launch and two flag steps, where NCCL's Ring/LL128 at the measured two-rank rate took 36.7 us), "
            "so the row got faster still. Since session 41 the kernel moves its bytes at TensorRT-LLM PR #14534's "
            "measured 450 GB/s (GB200, 4 ranks; library.custom_peer_bandwidth) in the step too (+37.5% -> +35.1%); no "
            "two-rank B200 timing of it was found, nor another TP2 cost that would explain the rest")
KNOWN_GAPS.update({
    # TRB-02 (+31.6%) left the gaps on 2026-12-06 (+23.7%, branch trb39): two B200s' all-reduce by NCCL's Ring/LL128
    # at the measured two-rank rate (README "The B200 TP2 rows and NCCL's two-rank LL128").
    # TRB-06 on 2026-12-06: +37.6 -> +33.8% with b200k40's block-scale wait, then +37.5% with tar40's TensorRT-LLM
    # two-shot kernel for its decode all-reduces, the kernel v0.20's AUTO strategy runs there (README "TensorRT-LLM's
    # own all-reduce").
    "TRB-06": (0.38, "Llama-3.3-70B TP2 1024/2048: " + B200_FP4 + B200_TP2),  # +35.1% (+37.5% before session 41, +44.8% before 39)
})
# Left the gaps on 2026-12-06 (branch b200k40: sm.block_scale_wait_cycles 137 and power.mac_energy.fp4 at the rated
# 0.25 x BF16 in b200.yaml, README "The B200's block-scale wait on"): MLP-B200 +26.0 -> +20.1% (MLPerf v4.1 1x B200
# Offline, on an assumed config: the next round's, fp4, batch 2048), TRB-04 +25.1 -> +23.4%, TRB-08 +26.2 -> +23.8%,
# TRB-12 +27.8 -> +23.4%. (MLP-B200G, +25.1% then, and TRB-01, +27.7%, left them on 2026-12-06 after session 38's B200
# memory-side power, branch b200f38; session 36's measured L2 bandwidth had moved every B200 row 0.1-2.2 points
# faster.)

# TensorRT-LLM MoE rows (TRM-*, 2026-12-06, branch moe40): Mixtral-8x7B FP8 on H100/H200 at TP2/4/8 (experts split by
# width over the TP group, no expert parallelism) from the v0.14 perf-overview (TensorRT engines on the C++ executor),
# and Qwen3-30B-A3B NVFP4 on one B200 from the v1.0 page (PyTorch backend). Every Mixtral row is over-predicted
# (+15.6..+43.2%, mean +27.7%) where the dense Llama-3.1-70B FP8 rows of the same v0.14 table on H100 (TP2/4/8 at
# 1000/1000 and 2048/128, run through the same path but not kept as rows) come out +16.6, +10.7, +10.3% and +9.2,
# +23.8, -2.7% (mean +11.3%): about 15 points are MoE-specific, most at TP8 and in prefill-heavy rows.
MIXTRAL_V14 = ("Mixtral-8x7B FP8 TP row of TensorRT-LLM v0.14 over-predicted by 10-20 points more than the dense rows of the "
               "same table (Llama-3.1-70B FP8, H100 TP2/4/8: mean +11%). Located in part and modelled since 2026-12-06 (branch "
               "moeperm40): the TP MoE block now runs TensorRT-LLM's CUTLASS MoE permute (expandInputRowsKernel: every "
               "routed row copied into expert order as the experts' fp8 input) and its finalize (finalizeMoeRoutingKernel: "
               "each token's top-k outputs summed back), Mixtral mean +27.8 -> +22.7%, 13 -> 9 rows beyond 25%; and "
               "(branch moe41) the TensorRT engines' MoE plugin path: the layer's fp8 quantize of the block input before "
               "the plugin (tensorrt_llm/layers/moe.py), the runner's routing maps (genSourceRow, CUB radix sort in three "
               "kernels, expert offsets) and computeStridesHopper before each grouped GEMM (FusionPolicy::moe_trt_plugin), "
               "Mixtral mean +22.7 -> +21.2%, 9 -> 8 rows beyond 25%. Suspected for the rest: the grouped GEMM is calibrated on DeepGEMM (2025, kernel rows DG-C-*) and runs "
               "faster than v0.14's CUTLASS MoE GEMM of late 2024 (no public timing of it found). Checked (branch moe42): the "
               "FP8 engines' build limits are calc_engine_setting's (build.py reads benchmark_config.yml only for other "
               "quantizations; it has no Mixtral TP8 entry), now at the build's 0.95 fraction; the runner's activation "
               "kernel writes fp8; the Hopper fused finalize (use_deterministic_hopper_reduce_) not dated to v0.14, "
               "not modelled. Since 2026-12-07 (branch moe60) the plugin's grouped GEMMs run as the kernel its runner "
               "builds for sm90 (moe_gemm_launcher_sm90.inl, HopperGroupedGemmInfo; OpSpec kCutlassPtrArrayImpl): FP8 "
               "fast accumulation (the model had charged the fp32 promotions and their 128x128 tile), its "
               "PtrArrayNoSmemWarpSpecialized epilogue stored from registers (4 L1 wavefronts per 32 elements) and no "
               "split-K: the first is the larger at Mixtral's K, so the prefill-heavy rows moved further (Mixtral mean "
               "+21.8 -> +22.8%, TRM-07 +28.5 -> +32.9%, TRM-19 +34.5 -> +39.0%). The one public timing of that kernel "
               "found (NVIDIA/cutlass issue #1352, example 57 on H100: 32 groups of 5120 x 1280 x 256 fp8, 0.529 ms) is "
               "twice the model's 0.269 ms: its per-tile costs at short K (the NoSmem stores, the per-group tensormap "
               "updates) are still under-modelled, the likeliest rest of this gap")
QWEN3_B200 = ("Qwen3-30B-A3B NVFP4 on one B200 (TensorRT-LLM v1.0 page), prefill-heavy row: the B200 NVFP4 over-prediction of "
              "the dense TRB rows (see B200_FP4). The MoE block's permute and top-k sum (128 experts, 8 per token: eight "
              "routed rows per token) are modelled since 2026-12-06 (branch moeperm40: TRM-33 +59.6 -> +45.7%, TRM-35 "
              "+46.7 -> +38.2%, TRM-36 +46.4 -> +41.6%); whether v1.0 fuses the finalize into the down GEMM's epilogue "
              "(CUTLASS MoE FC2+finalize fusion, NVIDIA/TensorRT-LLM PR #3294, merged 2025-08) is not checked: modelled "
              "unfused. Its decode-heavy rows are within 15% (host-bound: the PyTorch executor's loop over 1200-1500 "
              "requests)")
KNOWN_GAPS.update({
    "TRM-04": (0.30, MIXTRAL_V14),  # +28.7% (+26.1% before the run's small-batch tail steps read only the experts their tokens reach, +25.5% before the engine's build limits and fp8 activation output, +28.1% before the MoE plugin's quantize and routing kernels, +31.0% before the permute and finalize)
    "TRM-07": (0.35, MIXTRAL_V14),  # +32.9% since moe60's ptr-array kernel (+28.5%, +27.2%, +27.9%, +31.8%)
    "TRM-09": (0.36, MIXTRAL_V14),  # +32.0% (+31.2%, +32.5%, +43.2%)
    "TRM-11": (0.31, MIXTRAL_V14),  # +26.8% (+26.3%, +28.4%, +32.8%)
    "TRM-12": (0.31, MIXTRAL_V14),  # +27.3% (+29.8%, +32.0%, +39.1%)
    "TRM-15": (0.35, MIXTRAL_V14),  # +31.0% (+30.4%, +32.0%, +41.0%)
    "TRM-19": (0.42, MIXTRAL_V14),  # +39.0% since moe60's ptr-array kernel (+34.5%, +33.4%, +33.8%, +37.1%)
    "TRM-21": (0.38, MIXTRAL_V14),  # +33.7% (+33.1%, +34.2%, +42.6%)
    "TRM-33": (0.50, QWEN3_B200),  # +45.7% (+59.6%)
    "TRM-35": (0.43, QWEN3_B200),  # +38.2% (+46.7%)
    "TRM-36": (0.46, QWEN3_B200),  # +41.6% (+46.4%)
})
# Left the gaps on 2026-12-06 (branch moeperm40, the TP MoE block's permute and finalize kernels): TRM-01 +26.9 ->
# +24.0%, TRM-16 +26.1 -> +23.7%, TRM-18 +25.8 -> +19.8%, TRM-20 +25.8 -> +20.9%. TRM-10 left them on 2026-12-06
# (branch moe41, the TensorRT engines' MoE plugin kernels): +26.0 -> +23.8%.

# Every row of the Neuron tables is expressed: Llama-3-8B's six (NRT-01..06) store their weights as int8 and
# convert them to bf16 on chip (kernels/gemm/trainium.cpp; skipped until 2026-12-02).


# Issue 13's bound on the mean absolute error of the expressible rows is 15%; the TensorRT-LLM rows reach
# 10.2% (2026-12-04; all over-predicted: TP1 +9.4/+9.4%, TP2 +13.7/+14.3%, TP4 +5.2/+12.2%, TP8 +11.7/+15.3%
# at ISL/OSL 1000/1000 and 1024/2048, 405B TP8 +0.2%) with the PyTorch backend's kernels
# (FusionPolicy::trtllm_pytorch: fp8 inputs quantized by kernels of their own, RoPE in the attention op,
# silu_and_mul on its own; 19.1% with the vllm structure), the LM head's logits all-gather, the CUDA-graph
# padding of generation-only iterations to the captured sizes (HostLaunch::padded: 13.6% without; TRT-111
# +28.1% -> +21.2%, ~1050 running padded to the 1280 graph), NVLS's streamed reduction and its buffer copies
# (TRT-111 +25.8% -> +23.6%), and, since 2026-12-04, the dataset size of the 1024/2048 rows: the
# perf-overview's num_requests table omits that pair, which takes its 1000/2000 entry (1500 requests;
# trtllm_bench_requests) instead of the engine's 4 x max_batch_size (5120 at TP8), so a larger share of
# the offline run is its tail (TRT-108 +5.0 -> +9.4%, TRT-109 +15.3 -> +14.3%, TRT-110 +14.3 -> +12.2%,
# TRT-111 +24.3 -> +15.3%; MAE 11.0% -> 10.2%). Held at 11% so that the gain cannot be lost unnoticed.
TRT_MAE_BOUND = (0.11, "issue 13's 15%, held at 11% since 2026-12-04 (10.2%)")

# AWS NxD Inference on trn2.48xlarge (rows T2N-*, the trn2 tutorials' "No speculative decoding" tables, batch 1,
# TP64 at LNC2, 10000-token prompts; README "Parallel inference", 2026-12-05) and sglang-jax 0.1.0 on TPU v6e
# (rows SGJ-*, the cookbook's measured baselines, 16 clients, random lengths).
TRN2_405B_TTFT = ("Llama-3.1-405B's 10240-token context encoding on trn2.48xlarge predicted fast (-36.9%) while the "
                  "70B row of the same tutorials is -13.4% and both TPOT rows are within 21%: the simulation runs the "
                  "405B prefill at 56% of the 16 chips' bf16 peak (8.7 PFLOP in 1.54 s) against 35% measured, where "
                  "the 70B's is 39% simulated and 33% measured, so the measured stack holds both models at about a "
                  "third of peak and the simulation's GEMMs at the 405B's larger per-rank shapes (TP64: 2 query heads, "
                  "832 gate/up columns per rank) run closer to peak. Not located (NxD Inference's QKV/MLP NKI kernels "
                  "and their LNC2 split are not modelled apart from the GEMM lowering); the rows were taken on different "
                  "releases (vLLM fork v0.6.x-neuron for the 70B, neuron-2.22 for the 405B)")
# sglang-jax's 8B pair (SGJ-01/02) left the known gaps on 2026-12-05 (branch tpus34, +85.9/-46.5% -> within 15%):
# its decode step is bound by the host, which rebuilds the attention's page table at the compiled batch padding x
# max_req_len (131071 for Llama-3.1) every iteration (scheduler_sglang.cpp, HostWork::ns_per_table_slot), about
# 8 ms beside a ~4.8 ms device step; the 70B's 15 ms step hides the same table.
KNOWN_GAPS.update({
    "T2N-03": (0.40, TRN2_405B_TTFT),  # -36.9%
})

# SGLang's large-scale expert parallelism (rows "<model> large-scale EP decode/prefill pool", 2026-12-07, branch ep48):
# one step of a disaggregated pool measured alone (ep_pool_row). DeepSeek-V3's prefill pool on 4 nodes of H100
# (EP32, 16,384 tokens per GPU, TBO, 32 redundant experts) was measured twice at 4,096-token prompts in the same blog:
# with the real routing and SGLang's default expert placement (50,302 tok/s per node) and with "simulated perfect
# EPLB", random experts under group-limited routing (59,337), which is the routing the model draws (uniform, per
# step, EPLB-placed replicas): SGL-EP32-P4K-EPLB is +12.3%. The 18% between the two columns is the real routing's
# skew after EPLB (a few hot experts, the blog's expert-distribution figure), which no public table gives in
# numbers (the blog shows it only as figures; the expert statistics SGLang's reproduction loads are not public
# text), so the rows measured with it (and the 1K/2K prompts of the same figure, assumed at the same 16,384 tokens
# per GPU) are over-predicted by about that share.
EP_PREFILL_SKEW = ("SGLang DeepSeek-V3 EP32 prefill pool measured with its real expert routing after EPLB (default "
                   "placement): the same configuration with random group-limited routing (the model's routing) is "
                   "measured at 59,337 tok/s per node against 50,302 (SGL-EP32-P4K-EPLB +12.3%); the real routing's "
                   "skew is published only as figures, not modelled")
KNOWN_GAPS.update({
    "SGL-EP32-P4K": (0.38, EP_PREFILL_SKEW),  # +32.5%
    "SGL-EP32-P2K": (0.37, EP_PREFILL_SKEW + "; 2,048-token prompts, 16,384 tokens per GPU assumed"),  # +31.6%
    "SGL-EP32-P1K": (0.35, EP_PREFILL_SKEW + "; 1,024-token prompts, 16,384 tokens per GPU assumed"),  # +29.7%
})


def validate(filter_):
    out = subprocess.run([EXE, "validate", "--models", "--filter", filter_, "--format", "json"], capture_output=True,
                         text=True, env=dict(os.environ, SYSTEMC_DISABLE_COPYRIGHT_MESSAGE="1"), timeout=3000)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def check_bounds(points):
    """Each row within 25%, or a known gap beyond 25% and within its own bound."""
    for p in points:
        err = abs(p["error"])
        if p["id"] in KNOWN_GAPS:
            bound, why = KNOWN_GAPS[p["id"]]
            assert 0.25 < err <= bound, "%s: %.1f%% (known gap: %s)" % (p["id"], 100 * p["error"], why)
        else:
            assert err <= 0.25, "%s: predicted %.4g vs measured %.4g" % (p["id"], p["predicted"], p["measured"])


def test_multi_chip_model_rows():
    points, skipped = [], []
    for f in ("TRT-09", "TRT-1", "M2", "NRT-", "NRI-"):
        j = validate(f)
        points += j["points"]
        skipped += [s for s in j["not_predicted"] if s["id"].startswith(f)]
    ids = {p["id"] for p in points}
    assert {"TRT-093", "TRT-094", "TRT-095", "TRT-111", "TRT-139", "M22", "M25", "M26"} <= ids, ids  # multi-chip rows are expressed
    neuron = [p for p in points if p["id"].startswith(("NRT-", "NRI-"))]
    assert len(neuron) == 66, len(neuron)  # 34 trn1 + 32 inf2 rows
    assert not [s for s in skipped if s["id"].startswith(("NRT-", "NRI-"))], skipped
    for s in skipped:
        assert s["reason"], s
    check_bounds(points)
    trt = [abs(p["error"]) for p in points if p["id"].startswith("TRT-")]
    assert len(trt) == 9, trt
    mae = sum(trt) / len(trt)
    assert mae <= TRT_MAE_BOUND[0], "TensorRT-LLM rows' MAE %.1f%% (bound: %s)" % (100 * mae, TRT_MAE_BOUND[1])


# Whole steps on one H200 (workloads/validation/h200_measured.csv, scripts/measure/gpu_session.py): one
# decode or prefill step of Llama-3.1-8B (bf16) and Llama-3.1-70B (fp8) replayed as one CUDA graph, written
# with eager PyTorch ops (fusion pytorch-eager: every elementwise piece is its own kernel with its fixed
# costs; attention on the SDPA flash backend, FlashAttention-2) or with each layer compiled by
# torch.compile. Bound per group; known gaps by id with their reason and their own bound.
STEP_BOUND = 0.25
# G429/G499 (decode B128 of Llama-3.1-70B fp8 over a bf16 KV cache, tokens/s) were known gaps at +28/+29%
# while the step's attention ran its MMA at the activations' fp8; it runs at the wider of the activations
# and the cache (bf16 here, as SDPA flash does), and they are +14.4/+13.6%.
STEP_GAPS = {}


def test_step_rows_on_h200():
    j = validate("step Llama")
    points = [p for p in j["points"] if p["id"].startswith("G")]
    skipped = [s for s in j["not_predicted"] if s["id"].startswith("G")]
    workloads = {p["workload"] for p in points}
    assert any("torch.compile" in w for w in workloads), workloads
    assert any(w.startswith("decode step") and "torch.compile" not in w for w in workloads), workloads
    assert any(w.startswith("prefill step") for w in workloads), workloads
    for s in skipped:  # only the eagerly launched prefills, whose host dispatch bounds them
        assert "launched eagerly" in s["reason"], s
    assert len(points) >= 50, len(points)
    for p in points:
        assert p["chip"] == "h200", p
        err = abs(p["error"])
        if p["id"] in STEP_GAPS:
            bound, why = STEP_GAPS[p["id"]]
            assert STEP_BOUND < err <= bound, "%s: %.1f%% (known gap: %s)" % (p["id"], 100 * p["error"], why)
        else:
            assert err <= STEP_BOUND, "%s %s %s: predicted %.4g vs measured %.4g" % (
                p["id"], p["workload"], p["shape"], p["predicted"], p["measured"])


# TensorRT-LLM perf-overview rows on other systems than H100 (TRH-*: H200 FP8, TRB-*: B200 NVFP4).
def test_other_nvidia_system_rows():
    points, skipped = [], []
    for f in ("TRH-", "TRB-"):
        j = validate(f)
        points += j["points"]
        skipped += [s for s in j["not_predicted"] if s["id"].startswith(f)]
    assert len([p for p in points if p["id"].startswith("TRH-")]) == 10, points
    assert len([p for p in points if p["id"].startswith("TRB-")]) == 12, points
    assert not skipped, skipped
    for p in points:
        assert p["chip"].startswith("h200" if p["id"].startswith("TRH-") else "b200"), p
    check_bounds(points)


# MLPerf Inference Llama-2-70B Offline (M01: v4.1 8x H100; MLP-*: v4.1 8x H200 and 1x B200, v5.0 8x B200): the
# submission's engines and batch limits over the OpenOrca lengths of workloads/datasets/mlperf_llama2_openorca.csv
# (2026-12-05: +14.0, +2.8, +32.8, +23.2%).
def test_mlperf_offline_rows():
    j = validate("MLPerf")
    assert not j["not_predicted"], j["not_predicted"]
    chips = {p["id"]: p["chip"] for p in j["points"]}
    assert chips == {"M01": "h100x8", "MLP-H200": "h200x8", "MLP-B200": "b200x1", "MLP-B200G": "b200x8"}, chips
    for p in j["points"]:
        assert "OpenOrca" in p["note"], p
    check_bounds(j["points"])


# Beyond NVIDIA and trn1/inf2: NxD Inference on trn2.48xlarge (T2N-*, batch-1 TTFT and TPOT of one request) and
# sglang-jax on TPU v6e slices (SGJ-*, closed-loop throughput and median TPOT); every row expressed.
def test_trn2_and_tpu_rows():
    points, skipped = [], []
    for f in ("T2N-", "SGJ-"):
        j = validate(f)
        points += j["points"]
        skipped += [s for s in j["not_predicted"] if s["id"].startswith(f)]
    assert not skipped, skipped
    assert len([p for p in points if p["id"].startswith("T2N-")]) == 4, points
    assert len([p for p in points if p["id"].startswith("SGJ-")]) == 4, points
    for p in points:
        assert p["chip"] == ("trn2-48xl" if p["id"].startswith("T2N-") else "tpu-v6ex4" if p["id"] < "SGJ-03" else "tpu-v6ex16"), p
    check_bounds(points)


# JetStream-PyTorch on TPU v5e-8 (M29, jetstream-pytorch benchmarks/summary.md: Llama-3-8B bf16, 128 decode slots of
# 2048 tokens, ShareGPT through JetStream's benchmark_serving.py): the jetstream scheduler (fixed slots, one
# batch-1 prefill per request, generate steps over every slot and the whole cache) on 2000 requests of JetStream
# PR #83's Llama 3 ShareGPT mean lengths, exponential (assumed) within the benchmark's bounds (2026-12-05: -22.8%;
# -7.6% with every request at the mean lengths: the offline run's tail, slots draining while each step still runs
# all 128, is most of the difference).
def test_jetstream_pytorch_row():
    j = validate("M29")
    assert not j["not_predicted"], j["not_predicted"]
    assert [p["chip"] for p in j["points"]] == ["tpu-v5ex8"], j["points"]
    assert "jetstream scheduler, 128 slots of 2048 cached tokens" in j["points"][0]["note"], j["points"][0]
    check_bounds(j["points"])


# TensorRT-LLM MoE rows (TRM-*): Mixtral-8x7B FP8 at TP2/4/8 on H100 and H200 (v0.14 page, TensorRT engines: no
# PyTorch-executor host loop) and Qwen3-30B-A3B NVFP4 on one B200 (v1.0 page); every row expressed.
def test_trtllm_moe_rows():
    j = validate("TRM-")
    assert not j["not_predicted"], j["not_predicted"]
    points = j["points"]
    assert len(points) == 27, len(points)
    for p in points:
        want = "b200" if p["id"] >= "TRM-31" else "h200x" if p["id"] >= "TRM-16" else "h100x"
        assert p["chip"].startswith(want), p
    check_bounds(points)


# SGLang's large-scale EP pools (LMSYS 2025-05-05 on H100: DeepSeek-V3 decode EP72 and prefill EP32; 2025-07-17 on H200:
# Kimi-K2 decode EP96 with OME's launch config): one step of the whole pool on N nodes of the 8-GPU system.
def test_large_scale_ep_pool_rows():
    j = validate("large-scale EP")
    assert not j["not_predicted"], j["not_predicted"]
    chips = {p["id"]: p["chip"] for p in j["points"]}
    assert chips == {"SGL-EP72-D": "hgx-h100x8 x9", "SGL-EP32-P4K": "hgx-h100x8 x4", "SGL-EP32-P4K-EPLB": "hgx-h100x8 x4",
                     "SGL-EP32-P2K": "hgx-h100x8 x4", "SGL-EP32-P1K": "hgx-h100x8 x4", "K2-EP96-D": "hgx-h200x8 x12"}, chips
    for p in j["points"]:
        assert ("prefill step" if "-P" in p["id"] else "decode step") in p["note"], p
    check_bounds(j["points"])
