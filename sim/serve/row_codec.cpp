#include "sim/serve/row_codec.h"

#include <optional>
#include <stdexcept>

// std::optional as null or its value (nlohmann 3.11 has no serializer of its own for it).
namespace nlohmann {
template <class T>
struct adl_serializer<std::optional<T>> {
  static void to_json(json& j, const std::optional<T>& v) { j = v ? json(*v) : json(nullptr); }
  static void from_json(const json& j, std::optional<T>& v) {
    if (j.is_null()) v.reset();
    else v = j.get<T>();
  }
};
}  // namespace nlohmann

namespace xpu {

// Every field of every struct a row holds. A field added to one of them mostly changes its size, and
// the check below then fails until the field is listed here too (x86-64, libstdc++: the platform it is
// built on); one that fits into padding escapes it, and the compare test that runs a study in one
// process and in workers then shows it wherever it reaches the study's output.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(SchedulerLimits, token_budget, max_seqs, host_fixed_us, host_us_per_request, host_ns_per_table_slot, cache_tokens, page_tokens)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ServeMemory, capacity_bytes, weight_bytes, activation_bytes, comm_buffer_bytes, reserve_bytes,
                                   kv_bytes, kv_bytes_per_token, kv_blocks, block_tokens, kv_tokens, stage, stage_kv_tokens)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(OccupancySample, t_s, kv_used, running, waiting)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(EnergyBreakdown, compute_j, vector_j, onchip_j, dram_j, active_j, static_j)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PowerLimits, tdp_w, limit_window_s, peak_limit_w, short_term_limit_w, short_term_window_s, short_term_source)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PowerLog, limits, time_s, nominal_time_s, clock_s, boost_s, short_term_s, settling_s, held_s, idle_s,
                                   boost_ends_s, held_from_s, max_short_w, max_limit_w, max_short_unboosted_w, max_limit_held_w,
                                   peak_w, min_clock, energy)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(KvTransferStats, transfers, bytes_total, bytes_mean, prefix_tokens_mean, prefix_bytes_mean, sent_tokens_mean, resident_tokens_mean, prefix_rule, time_mean_s, time_p50_s, time_p99_s, alone_s,
                                   fabric_runs, converged, collectives_met, collective_delay_s, hbm_delay_s,
                                   prefill_busy, decode_busy, prefill_power_w, decode_power_w, power_manager_chip)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(DisaggLayout, prefill_tp, decode_tp, prefill_ep, decode_ep, prefill_dp, decode_dp, prefill_pp, decode_pp, layers, prefill_devices,
                                   decode_devices, prefill_instances, decode_instances, prefill_first, decode_first, system_chips,
                                   kv_bytes_per_token, draft_kv_bytes_per_token, kv_heads, prefill_redundant_experts, prefill_weight_bytes, decode_weight_bytes, prefill_kv_tokens,
                                   decode_kv_tokens)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(DpAttentionStats, ranks, dispatch, tokens_per_rank_mean, tokens_per_rank_max, imbalance, requests_per_rank_mean,
                                   requests_per_rank_max, wait_share,
                                   idle_rank_share, held_share)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(OfferedLoad, requests, window_s, requests_per_s, input_tok_s, output_tok_s)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ServePoint, batch, concurrency, rate, offered, throughput_tok_s, throughput_tok_s_per_chip, tok_s_per_user,
                                   requests_per_s, ttft_s, ttft_p90_s, ttft_p99_s, tpot_s, tpot_p90_s, tpot_p99_s, tpot_requests, itl_p50_s, e2e_p50_s,
                                   kv_mean, kv_peak, preemptions, requests, iterations, makespan_s, busy_s, kv_over_time, avg_power_w,
                                   peak_power_w, joules_per_token, clock_ratio, throttled, meets_slo, energy_per_token, wall_s,
                                   simulated_parts, host_wait_share, host_busy_share, host_bound_share, tokens_per_decode_step,
                                   kv_transfer, dp_attention, prefill_dp_attention, layout, power_manager)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CostFigures, usd_per_hour, usd_per_mtok, tok_per_s_per_usd_hour, assumed, basis, set_by)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ServeKernel, label, time_s, algorithm, comm_bytes)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(DramPathBound, unit, keys, path_bandwidth, hbm_bandwidth, share, busy, achieved)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(LayoutFigures, tp, ep, pp, dp, expert_tp, microbatches, pad_heads, redundant_experts, sp, overlap,
                                   two_batch_overlap)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PoolLayout, name, figures)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ServeResult, chip, family, model, precision, scheduler, mode, system, layout, devices, replicas,
                                   folding, limits, memory, input_lengths, output_lengths, curve, best, frontier, note, cost, tdp_w,
                                   power_modeled, kernels, dram_path, prefix_hit, spec_tokens, spec_accept, spec_tokens_per_step, spec_method,
                                   spec_drafter, spec_draft_tp, disagg, layout_figures, prefill_layout, decode_layout)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PointBound, time_s, dominant, share, path_unit, path_keys)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(InteractivityTier, tok_s_per_user, throughput_tok_s, concurrency, rate, point, throughput_tok_s_per_chip,
                                   usd_per_mtok, tco_usd_per_mtok, tok_s_per_mw, bound, why, layout)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PointEconomics, usd_per_mtok, tco_usd_per_mtok, tok_s_per_mw)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(LayoutTrial, layout, kind, fits, ran, chosen, pruned, screened_to, walk_cut, tok_s_per_chip_at_tier,
                                   serves_tiers, max_tok_s_per_chip, max_tok_s_per_user, verdict)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CompareRow, chip, family, devices, ran, error, result, price_source, tdp_w, perf_per_usd_rel,
                                   config_yaml, system_yaml, tiers, economics, frontier, frontier_economics, tco, tco_assumptions, provisioned_w,
                                   validation, layouts, layout_criterion)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ProcessRunStats, simulations, reused_chips, transactions, worker_peak_rss_kib)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(UnitResult, row, stats, peak_rss_kib)

#if defined(__x86_64__) && defined(__GLIBCXX__)
#define XPU_ROW_FIELDS(Type, bytes) \
  static_assert(sizeof(Type) == (bytes), #Type " changed: list its new field in row_codec.cpp, then update its size here");
XPU_ROW_FIELDS(SchedulerLimits, 56)
XPU_ROW_FIELDS(ServeMemory, 112)
XPU_ROW_FIELDS(OccupancySample, 32)
XPU_ROW_FIELDS(EnergyBreakdown, 48)
XPU_ROW_FIELDS(PowerLimits, 72)
XPU_ROW_FIELDS(PowerLog, 248)
XPU_ROW_FIELDS(KvTransferStats, 216)
XPU_ROW_FIELDS(DisaggLayout, 120)
XPU_ROW_FIELDS(DpAttentionStats, 104)
XPU_ROW_FIELDS(OfferedLoad, 40)
XPU_ROW_FIELDS(ServePoint, 1112)
XPU_ROW_FIELDS(CostFigures, 96)
XPU_ROW_FIELDS(LayoutFigures, 36)
XPU_ROW_FIELDS(PoolLayout, 72)
XPU_ROW_FIELDS(ServeKernel, 80)
XPU_ROW_FIELDS(DramPathBound, 104)
XPU_ROW_FIELDS(ServeResult, 1256)
XPU_ROW_FIELDS(PointBound, 128)
XPU_ROW_FIELDS(InteractivityTier, 264)
XPU_ROW_FIELDS(PointEconomics, 24)
XPU_ROW_FIELDS(LayoutTrial, 184)
XPU_ROW_FIELDS(CompareRow, 1792)
XPU_ROW_FIELDS(ProcessRunStats, 32)
XPU_ROW_FIELDS(UnitResult, 1832)
#undef XPU_ROW_FIELDS
#endif

nlohmann::json compare_row_to_json(const CompareRow& row) { return row; }

CompareRow compare_row_from_json(const nlohmann::json& j) {
  try {
    return j.get<CompareRow>();
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("a compare row that does not read back: ") + e.what());
  }
}

namespace {
std::string to_cbor(const nlohmann::json& j) {
  const std::vector<std::uint8_t> b = nlohmann::json::to_cbor(j);
  return std::string(b.begin(), b.end());
}
template <class T>
T from_cbor(const std::string& bytes) {
  try {
    return nlohmann::json::from_cbor(bytes.begin(), bytes.end()).get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("a compare row that does not read back: ") + e.what());
  }
}
}  // namespace

std::string encode_compare_row(const CompareRow& row) { return to_cbor(row); }
CompareRow decode_compare_row(const std::string& bytes) { return from_cbor<CompareRow>(bytes); }
std::string encode_unit_result(const UnitResult& r) { return to_cbor(r); }
UnitResult decode_unit_result(const std::string& bytes) { return from_cbor<UnitResult>(bytes); }

}  // namespace xpu
