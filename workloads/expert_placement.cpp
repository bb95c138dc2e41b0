// Expert placement over expert-parallel ranks: contiguous, or EPLB's replicate-and-pack.
#include "workloads/expert_placement.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_map>

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

std::vector<std::int64_t> spread_rows(std::int64_t rows, std::int64_t slots, std::int64_t active) {
  std::vector<std::int64_t> out(static_cast<size_t>(std::max<std::int64_t>(slots, 0)), 0);
  if (slots <= 0 || rows <= 0) return out;
  active = std::clamp<std::int64_t>(active, 1, slots);
  const std::int64_t extra = rows % active;
  auto at = [&](std::int64_t i) { return static_cast<size_t>(i * slots / active); };
  for (std::int64_t i = 0; i < active; ++i) out[at(i)] += rows / active;
  for (std::int64_t j = 0; j < extra; ++j) out[at(j * active / extra)] += 1;
  return out;
}

std::int64_t reached_slots(double expected, std::int64_t slots, std::int64_t rows, std::int64_t tokens) {
  const std::int64_t least = (rows + tokens - 1) / tokens;
  return std::clamp<std::int64_t>(std::llround(expected), std::min(least, slots), std::min(slots, rows));
}

std::vector<std::int64_t> ExpertPlacement::reached_rows(int rank, std::int64_t tokens, const RouterShape& r) const {
  const auto& slots = ranks[static_cast<size_t>(rank)];
  const std::int64_t rows = rank_rows(rank), n = static_cast<std::int64_t>(slots.size());
  if (tokens <= 0 || rows <= 0 || n == 0 || r.experts <= 0) return group_rows(rank);
  double reached = 0;
  for (const ExpertSlot& s : slots) {
    const double c = s.expert >= 0 && static_cast<size_t>(s.expert) < replicas.size() ? replicas[static_cast<size_t>(s.expert)] : 1;
    const double pick = std::min(1.0, static_cast<double>(r.topk) / (static_cast<double>(r.experts) * c));
    reached += 1.0 - std::pow(1.0 - pick, static_cast<double>(tokens));
  }
  return spread_rows(rows, n, reached_slots(reached, n, rows, tokens));
}

namespace {
// The tokens (of `tokens`) that reach a rank holding these slots, each expert taken independently.
double tokens_reaching(const std::vector<ExpertSlot>& slots, std::int64_t tokens) {
  // Replicas of one expert on a rank split its tokens: sum them per expert before the product.
  std::vector<std::pair<std::int64_t, std::int64_t>> per_expert;
  for (const ExpertSlot& s : slots) {
    auto it = std::find_if(per_expert.begin(), per_expert.end(), [&](const auto& e) { return e.first == s.expert; });
    if (it == per_expert.end()) per_expert.push_back({s.expert, s.rows});
    else it->second += s.rows;
  }
  double miss = 1.0;
  for (const auto& e : per_expert) miss *= 1.0 - std::min(1.0, static_cast<double>(e.second) / static_cast<double>(tokens));
  return static_cast<double>(tokens) * (1.0 - miss);
}
}  // namespace

std::int64_t ExpertPlacement::max_rank_tokens(std::int64_t tokens) const {
  if (tokens <= 0) return 0;
  double most = 0.0;
  for (int r = 0; r < static_cast<int>(ranks.size()); ++r)
    most = std::max(most, r == sampled_rank ? std::min(static_cast<double>(tokens), sampled_tokens)
                                            : tokens_reaching(ranks[static_cast<size_t>(r)], tokens));
  return static_cast<std::int64_t>(std::ceil(most - 1e-9));
}

double expected_max_normal(int n) {
  if (n <= 1) return 0.0;
  // A pure function of n, asked for at every MoE layer group of every graph a run builds: kept per
  // thread, one entry per rank count met (bounded by the largest system, kMaxSystemChips).
  thread_local std::unordered_map<int, double> memo;
  if (auto it = memo.find(n); it != memo.end()) return it->second;
  // Simpson's rule over [-8, 8] in steps of 1/100: the integrand is smooth and negligible outside.
  constexpr int kSteps = 1600;
  constexpr double kLo = -8.0, kH = 16.0 / kSteps;
  double sum = 0.0;
  for (int i = 0; i <= kSteps; ++i) {
    const double x = kLo + i * kH;
    const double phi = std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI), cdf = 0.5 * std::erfc(-x / std::sqrt(2.0));
    const double f = x * n * phi * std::pow(cdf, n - 1);
    sum += f * (i == 0 || i == kSteps ? 1.0 : i % 2 == 1 ? 4.0 : 2.0);
  }
  return memo.emplace(n, sum * kH / 3.0).first->second;
}

namespace {
// Variance of the successes among k draws without replacement from n items of which m succeed.
double hypergeometric_variance(double k, double n, double m) {
  if (n <= 1.0) return 0.0;
  const double p = m / n;
  return k * p * (1.0 - p) * (n - k) / (n - 1.0);
}

double choose(std::int64_t n, std::int64_t k) {
  if (k < 0 || k > n) return 0.0;
  double c = 1.0;
  for (std::int64_t i = 0; i < k; ++i) c = c * static_cast<double>(n - i) / static_cast<double>(i + 1);
  return c;
}
}  // namespace

double token_rows_variance(const RouterShape& r, double slots) {
  const auto E = static_cast<double>(r.experts), k = static_cast<double>(r.topk);
  const std::int64_t G = r.groups, g = r.groups_per_token;
  const bool limited = G > 1 && g < G && r.experts % G == 0 && r.topk >= 1;
  const std::int64_t per_group = limited ? r.experts / G : 0;
  const auto whole = static_cast<std::int64_t>(std::llround(slots));
  if (limited && std::abs(slots - static_cast<double>(whole)) < 1e-9 && whole > 0) {
    const double pool = static_cast<double>(g * per_group), mean = k * slots / E;
    if (per_group % whole == 0) {  // inside one group: reached only when the token picks that group
      const double p = static_cast<double>(g) / static_cast<double>(G), given = k * slots / pool;
      return p * (hypergeometric_variance(k, pool, slots) + given * given) - mean * mean;
    }
    if (whole % per_group == 0) {  // h whole groups: j of them among the token's g
      const std::int64_t h = whole / per_group;
      double second = 0.0;
      for (std::int64_t j = 0; j <= std::min(h, g); ++j) {
        const double pj = choose(h, j) * choose(G - h, g - j) / choose(G, g), given = k * static_cast<double>(j) / static_cast<double>(g);
        second += pj * (hypergeometric_variance(k, pool, static_cast<double>(j * per_group)) + given * given);
      }
      return second - mean * mean;
    }
  }
  return hypergeometric_variance(k, E, slots);
}

void sample_step(ExpertPlacement& p, std::int64_t tokens, const RouterShape& r) {
  const int ep = static_cast<int>(p.ranks.size());
  if (ep < 2 || tokens <= 0) return;
  std::vector<std::int64_t> load(static_cast<size_t>(ep));
  std::int64_t total = 0;
  int busiest = 0;
  for (int i = 0; i < ep; ++i) {
    load[static_cast<size_t>(i)] = p.rank_rows(i);
    total += load[static_cast<size_t>(i)];
    if (load[static_cast<size_t>(i)] > load[static_cast<size_t>(busiest)]) busiest = i;
  }
  if (total <= 0) return;
  const std::int64_t most = load[static_cast<size_t>(busiest)];
  const double share = static_cast<double>(most) / static_cast<double>(total);
  const double sigma = std::sqrt(static_cast<double>(tokens) * token_rows_variance(r, static_cast<double>(r.experts) * share));
  int contenders = 0;
  for (std::int64_t l : load) contenders += static_cast<double>(l) >= static_cast<double>(most) - 3.0 * sigma ? 1 : 0;
  const double z = expected_max_normal(contenders);
  // The busiest rank's tokens in a normal-kernel dispatch, taken before its rows grow.
  const double expected_tokens = tokens_reaching(p.ranks[static_cast<size_t>(busiest)], tokens);
  const double q = std::min(1.0, expected_tokens / static_cast<double>(tokens));
  p.sampled_rank = busiest;
  p.sampled_z = z;
  p.sampled_tokens = expected_tokens + z * std::sqrt(static_cast<double>(tokens) * q * (1.0 - q));
  // Its rows: z sigma more, at most every token's min(k, slots) picks, taken evenly from the others.
  auto& hot = p.ranks[static_cast<size_t>(busiest)];
  const std::int64_t cap = tokens * std::min<std::int64_t>(r.topk, static_cast<std::int64_t>(hot.size()));
  const std::int64_t extra = std::min({static_cast<std::int64_t>(std::llround(z * sigma)), cap - most, total - most});
  if (extra <= 0) return;
  const auto n_hot = static_cast<std::int64_t>(hot.size());
  for (std::int64_t j = 0; j < n_hot; ++j) hot[static_cast<size_t>(j)].rows += extra / n_hot + (j < extra % n_hot ? 1 : 0);
  // Others: proportionally to their rows (floor), then the remainder a row at a time from the largest.
  const std::int64_t others = total - most;
  std::int64_t taken = 0;
  std::vector<ExpertSlot*> cold;
  for (int i = 0; i < ep; ++i)
    if (i != busiest)
      for (ExpertSlot& s : p.ranks[static_cast<size_t>(i)]) {
        const std::int64_t t = static_cast<std::int64_t>(static_cast<double>(extra) * static_cast<double>(s.rows) / static_cast<double>(others));
        s.rows -= t;
        taken += t;
        cold.push_back(&s);
      }
  std::stable_sort(cold.begin(), cold.end(), [](const ExpertSlot* a, const ExpertSlot* b) { return a->rows > b->rows; });
  for (size_t j = 0; taken < extra && !cold.empty(); j = (j + 1) % cold.size())
    if (cold[j]->rows > 0) {
      --cold[j]->rows;
      ++taken;
    }
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
                     std::to_string(experts) + ", topk " + std::to_string(topk) + ", ep " + std::to_string(ep) + ")",
                     topk <= 0 || topk > experts ? "--topk" : "--ep", std::to_string(topk <= 0 || topk > experts ? topk : ep));
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
                                   std::int64_t groups_per_token, double z) {
  const double q = distinct_ranks_per_token(experts, topk, ep, groups, groups_per_token) / ep, t = static_cast<double>(tokens);
  return static_cast<std::int64_t>(std::ceil(std::min(t, t * q + z * std::sqrt(t * q * (1.0 - q))) - 1e-9));
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
  if (ep <= 0 || E == 0) throw InputError("expert placement: need experts and a positive --ep", "--ep", "");
  if (redundant < 0 || (E + redundant) % ep != 0)
    throw InputError("--redundant-experts " + std::to_string(redundant) + ": " + std::to_string(E) + " + " + std::to_string(redundant) +
                     " experts do not split over --ep " + std::to_string(ep) + " (expected a count making them a multiple of it)", "--redundant-experts", std::to_string(redundant));
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
