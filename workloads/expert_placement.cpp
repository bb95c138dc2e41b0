// Expert placement over expert-parallel ranks: contiguous, or EPLB's replicate-and-pack.
#include "workloads/expert_placement.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "sim/base/error.h"

namespace xpu {

std::int64_t ExpertPlacement::rank_rows(int rank) const {
  std::int64_t n = 0;
  for (const ExpertSlot& s : ranks[static_cast<size_t>(rank)]) n += s.rows;
  return n;
}

std::int64_t ExpertPlacement::max_rank_rows() const {
  std::int64_t n = 0;
  for (int r = 0; r < static_cast<int>(ranks.size()); ++r) n = std::max(n, rank_rows(r));
  return n;
}

std::vector<std::int64_t> ExpertPlacement::group_rows(int rank) const {
  std::vector<std::int64_t> out;
  for (const ExpertSlot& s : ranks[static_cast<size_t>(rank)]) out.push_back(s.rows);
  return out;
}

std::int64_t ExpertPlacement::max_rank_tokens(std::int64_t tokens) const {
  if (tokens <= 0) return 0;
  double most = 0.0;
  for (const auto& slots : ranks) {
    // Replicas of one expert on a rank split its tokens: sum them per expert before the product.
    std::vector<std::pair<std::int64_t, std::int64_t>> per_expert;
    for (const ExpertSlot& s : slots) {
      auto it = std::find_if(per_expert.begin(), per_expert.end(), [&](const auto& e) { return e.first == s.expert; });
      if (it == per_expert.end()) per_expert.push_back({s.expert, s.rows});
      else it->second += s.rows;
    }
    double miss = 1.0;
    for (const auto& e : per_expert) miss *= 1.0 - std::min(1.0, static_cast<double>(e.second) / static_cast<double>(tokens));
    most = std::max(most, static_cast<double>(tokens) * (1.0 - miss));
  }
  return static_cast<std::int64_t>(std::ceil(most - 1e-9));
}

namespace {
// C(n - m, k) / C(n, k): the chance that k distinct picks out of n all miss m given ones.
double all_miss(std::int64_t n, std::int64_t m, std::int64_t k) {
  double miss = 1.0;
  for (std::int64_t i = 0; i < k; ++i) miss *= i < n - m ? static_cast<double>(n - m - i) / static_cast<double>(n - i) : 0.0;
  return miss;
}
}  // namespace

double distinct_ranks_per_token(std::int64_t experts, std::int64_t topk, int ep, std::int64_t groups, std::int64_t groups_per_token) {
  if (ep <= 0 || experts <= 0 || topk <= 0 || topk > experts || experts % ep != 0)
    throw InputError("distinct ranks per token: need 1 <= topk <= experts and experts a multiple of ep (got experts " +
                     std::to_string(experts) + ", topk " + std::to_string(topk) + ", ep " + std::to_string(ep) + ")");
  const std::int64_t per_rank = experts / ep;
  const bool limited = groups > 1 && groups_per_token < groups && experts % groups == 0;
  if (limited && ep % groups == 0) {  // each group over ep/groups ranks: the token's pool of experts and ranks
    const std::int64_t pool = groups_per_token * (experts / groups);
    const double ranks = static_cast<double>(groups_per_token * (ep / groups));
    return ranks * (1.0 - all_miss(pool, per_rank, topk));
  }
  if (limited && groups % ep == 0 && topk >= groups_per_token)  // whole groups per rank: the ranks of its groups
    return ep * (1.0 - all_miss(groups, groups / ep, groups_per_token));
  return ep * (1.0 - all_miss(experts, per_rank, topk));  // a rank is missed when all k experts are elsewhere
}

std::int64_t normal_receive_tokens(std::int64_t tokens, std::int64_t experts, std::int64_t topk, int ep, std::int64_t groups,
                                   std::int64_t groups_per_token) {
  const double ranks = distinct_ranks_per_token(experts, topk, ep, groups, groups_per_token);
  return static_cast<std::int64_t>(std::ceil(static_cast<double>(tokens) * ranks / ep - 1e-9));
}

std::uint64_t normal_forwarded_bytes(std::int64_t rows, std::int64_t row_bytes, std::int64_t experts, std::int64_t topk, int nodes,
                                     std::int64_t groups, std::int64_t groups_per_token) {
  const double per_token = distinct_ranks_per_token(experts, topk, nodes, groups, groups_per_token);
  return static_cast<std::uint64_t>(std::ceil(static_cast<double>(rows) * per_token - 1e-9)) * static_cast<std::uint64_t>(row_bytes);
}

std::int64_t expert_token_bytes(std::int64_t hidden, DType dtype) {
  const auto data = static_cast<std::int64_t>(std::ceil(static_cast<double>(hidden) * bytes_per_element(dtype)));
  const std::int64_t kScaleBlock = 128, kScaleBytes = 4;  // DeepEP / SGLang FP8: one float32 per 1 x 128 block
  return data + (dtype == DType::fp8 ? kScaleBytes * ((hidden + kScaleBlock - 1) / kScaleBlock) : 0);
}

ExpertPlacement place_experts(const std::vector<std::int64_t>& rows, int ep, std::int64_t redundant) {
  const auto E = static_cast<std::int64_t>(rows.size());
  if (ep <= 0 || E == 0) throw InputError("expert placement: need experts and a positive --ep");
  if (redundant < 0 || (E + redundant) % ep != 0)
    throw InputError("--redundant-experts " + std::to_string(redundant) + ": " + std::to_string(E) + " + " + std::to_string(redundant) +
                     " experts do not split over --ep " + std::to_string(ep) + " (expected a count making them a multiple of it)");
  ExpertPlacement p;
  p.ranks.resize(static_cast<size_t>(ep));
  p.replicas.assign(static_cast<size_t>(E), 1);
  const std::int64_t slots = (E + redundant) / ep;
  if (redundant == 0) {
    for (std::int64_t e = 0; e < E; ++e) p.ranks[static_cast<size_t>(e / slots)].push_back({e, rows[static_cast<size_t>(e)]});
    return p;
  }
  // replicate_experts: the next replica to the expert with the most rows per replica (compared as
  // rows_a * count_b > rows_b * count_a, exact in integers).
  for (std::int64_t i = 0; i < redundant; ++i) {
    size_t best = 0;
    for (size_t e = 1; e < rows.size(); ++e)
      if (rows[e] * p.replicas[best] > rows[best] * p.replicas[e]) best = e;
    ++p.replicas[best];
  }
  std::vector<ExpertSlot> phys;
  for (size_t e = 0; e < rows.size(); ++e) {
    const std::int64_t c = p.replicas[e], each = rows[e] / c, extra = rows[e] % c;
    for (std::int64_t j = 0; j < c; ++j) phys.push_back({static_cast<std::int64_t>(e), each + (j < extra ? 1 : 0)});
  }
  // balanced_packing: heaviest replica first onto the least-loaded rank with a free slot.
  std::stable_sort(phys.begin(), phys.end(), [](const ExpertSlot& a, const ExpertSlot& b) { return a.rows > b.rows; });
  std::vector<std::int64_t> load(static_cast<size_t>(ep), 0);
  for (const ExpertSlot& s : phys) {
    size_t best = load.size();
    for (size_t r = 0; r < load.size(); ++r)
      if (static_cast<std::int64_t>(p.ranks[r].size()) < slots && (best == load.size() || load[r] < load[best])) best = r;
    p.ranks[best].push_back(s);
    load[best] += s.rows;
  }
  return p;
}

}  // namespace xpu
