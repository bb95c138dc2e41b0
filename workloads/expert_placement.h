// Where routed experts sit over the expert-parallel ranks, with redundant replicas of the hottest
// ones (DeepSeek-V3's EPLB), and the rows each rank's grouped GEMM computes.
#pragma once
#include <cstdint>
#include <vector>

#include "sim/base/dtype.h"

namespace xpu {

// One physical expert on a rank: the logical expert it holds and the routed rows it computes.
struct ExpertSlot {
  std::int64_t expert = 0;
  std::int64_t rows = 0;
};

// Every EP rank's slots ((E + redundant) / ep each) and each logical expert's replica count.
//   redundant == 0: expert e on rank e / (E/ep), consecutive experts per rank, as vLLM, SGLang and
//                   TensorRT-LLM place them without a load balancer.
//   redundant  > 0: DeepSeek's EPLB (github.com/deepseek-ai/EPLB@57919718 eplb.py, the global policy,
//                   which its hierarchical one equals on one node (one NVLink domain);
//                   DeepSeek-V3 technical report, arXiv 2412.19437, section 3.4): each extra replica
//                   goes to the expert with the most rows per replica (replicate_experts), an
//                   expert's rows are split evenly over its replicas (the token dispatcher spreads
//                   them), and the replicas, heaviest first, go to the least-loaded rank that still
//                   has a free slot (balanced_packing). SGLang serves it so with
//                   --ep-num-redundant-experts N (models/deepseek_v2.py: E + N physical experts).
// The load it balances is the step's own routing (`rows`): EPLB's statistics taken as exact (its
// greedy result for a perfectly known load, not an optimum). Ties go to the lowest expert and rank
// index: deterministic.
// What a router picks per token, for the variance of one step's loads: `experts` routed experts,
// `topk` per token, and group-limited routing (`groups` groups, a token's experts inside its
// `groups_per_token` best: ModelConfig::expert_groups; 1 and 1 without it).
struct RouterShape {
  std::int64_t experts = 1, topk = 1, groups = 1, groups_per_token = 1;
};

// `rows` rows over `slots` slots of which `active` (1 <= active <= slots) get them: an even share each, the active
// slots and the remainder's rows evenly spaced over the range (slot i * slots / active), as random routing scatters
// them, so expert-parallel ranks holding consecutive experts share them. Deterministic.
std::vector<std::int64_t> spread_rows(std::int64_t rows, std::int64_t slots, std::int64_t active);
// How many of `slots` slots `tokens` tokens (> 0) reach, as a count that holds their `rows` rows: `expected` (the mean
// count, a sum of 1 - miss^T over the slots) rounded, at least ceil(rows / T) (a token picks a slot once) and at most
// min(slots, rows). The one rounding of uniform and hot routing's reached experts and of an EP rank's reached slots.
std::int64_t reached_slots(double expected, std::int64_t slots, std::int64_t rows, std::int64_t tokens);

struct ExpertPlacement {
  std::vector<std::vector<ExpertSlot>> ranks;
  std::vector<int> replicas;
  std::int64_t rank_rows(int rank) const;
  std::int64_t max_rank_rows() const;  // the hottest rank's rows: it bounds dispatch and combine
  std::vector<std::int64_t> group_rows(int rank) const;  // its slots' rows, the grouped GEMM's groups
  // group_rows under uniform routing drawn per step (Routing): the rank's rows on the slots `tokens` tokens reach,
  // sum over its slots of 1 - (1 - k/(E c))^T (c the slot's expert's replicas, which split its tokens), rounded,
  // at least ceil(rows/T) (a token picks an expert once) and at most min(slots, rows), evenly spaced
  // (spread_rows). The rank's rows (and so the draw's) are unchanged; the slots it reads weights for shrink.
  std::vector<std::int64_t> reached_rows(int rank, std::int64_t tokens, const RouterShape& r) const;
  // The tokens (of `tokens` routed to these slots) that the busiest rank receives when each token goes
  // once to every rank holding any of its experts, as DeepEP's normal (prefill) kernels send it
  // (see distinct_ranks_per_token). A token reaches a rank's expert e with probability
  // rows_e / tokens, taken independently per expert (assumed: the routing gives only per-expert
  // loads, not which experts a token picks together); a rank holding an expert every token picks
  // receives every token.
  std::int64_t max_rank_tokens(std::int64_t tokens) const;
  // The rank sample_step made the busiest (-1: none), the expected maximum it was given (in standard
  // deviations) and the tokens it receives in a normal-kernel dispatch (max_rank_tokens takes them).
  int sampled_rank = -1;
  double sampled_z = 0.0;
  double sampled_tokens = 0.0;
};


// E[max of n independent standard normal variables]: 0 for n = 1, 0.564 for 2, 1.424 for 8, 2.39 for
// 72 (numerical integration of x n phi(x) Phi(x)^(n-1)).
double expected_max_normal(int n);

// The variance of the routed rows one token sends to an EP rank holding `slots` experts' worth of the
// load (experts x its expected share of the rows), the count of its top-k picks that fall there:
// hypergeometric, k (s/E)(1 - s/E)(E - k)/(E - 1), without group limits. With them (the rank's
// experts inside one group, or whole groups on it), the token first picks its groups (the rank's
// group among them with probability g/G, or a hypergeometric number of its groups), then k experts
// among the chosen groups' g E/G: the law of total variance over the groups picked. Group-limited
// routing concentrates a token's picks, so a rank's count varies more (DeepSeek-V3 over 8 ranks:
// 1.71 rows^2 per token instead of 0.85). Each chosen group is not forced to supply an expert
// (assumed; it changes little at k >= 2g).
double token_rows_variance(const RouterShape& r, double slots);

// One step's routing sampled (issue 13, load imbalance across experts): a router balanced in
// expectation (DeepSeek-V3's auxiliary-loss-free bias, arXiv 2412.19437 section 2.1.2; EPLB's
// placement of its history) still sends each step's tokens to their experts at random, so the EP
// ranks' loads differ from step to step and the step waits for the busiest (the all-to-all completes
// when its last peer's rows are in; the grouped GEMMs behind it are the longest). EPLB balances the
// expected loads; the per-step draw is what it cannot remove. The placement's expected rows are kept,
// except that the rank with the most expected rows takes its expected excess over the mean: z_n
// standard deviations of its count (tokens x token_rows_variance), z_n = expected_max_normal(n) over
// the n ranks within 3 of those deviations of it (every rank when the placement is balanced), and the
// other ranks give those rows back evenly, so the step's routed rows are unchanged. A normal-kernel
// dispatch's busiest rank also receives z_n sqrt(tokens q (1 - q)) more tokens, q the chance a token
// reaches it (max_rank_tokens). The normal approximation of a binomial count; capped at every token
// sending the rank min(k, its slots) rows. The expected maximum, not a draw: deterministic.
void sample_step(ExpertPlacement& p, std::int64_t tokens, const RouterShape& r);

// The expected number of distinct EP ranks among a token's `topk` experts, chosen uniformly without
// repetition from `experts` placed experts/ep per rank: ep x (1 - C(E - E/ep, k) / C(E, k)), a rank
// missed only when all k experts fall among the E - E/ep experts elsewhere. DeepEP's normal kernels
// (high-throughput, training and prefill) send a token once per destination rank holding any of its
// experts (github.com/deepseek-ai/DeepEP@0aaa6744 README: get_dispatch_layout's num_tokens_per_rank and
// is_token_in_rank feed dispatch; combine returns one reduced row per token and rank), its low-latency
// (decode) kernels once per expert (low_latency_dispatch receives [local experts, tokens, hidden]).
// DeepSeek-V3 (256 experts, top-8) over 8 ranks: 5.29 ranks instead of 8 copies.
// With group-limited routing (`groups` groups of consecutive experts, a token's experts inside its
// `groups_per_token` best ones: ModelConfig::expert_groups) the groups bound the ranks a token
// reaches: groups spanning ep/groups ranks each, the k experts fall among its groups' experts on
// groups_per_token x ep/groups ranks (the same count over that pool); ranks holding groups/ep whole
// groups each, a token reaches the ranks of its chosen groups, ep x (1 - C(G - G/ep, g) / C(G, g)),
// each chosen group assumed to supply one of its experts at least (the group's score is the sum of its
// best experts' scores, so a group is chosen for experts it then supplies; assumed for k >= g). Other
// splits: the bound is not applied. DeepSeek-V3 (8 groups, 4 per token) over 8 ranks: 3.63 ranks.
double distinct_ranks_per_token(std::int64_t experts, std::int64_t topk, int ep, std::int64_t groups = 1,
                                std::int64_t groups_per_token = 1);

// An expert all-to-all as DeepEP's normal (prefill) kernels run it under uniform routing over `experts`
// slots (ep * per-rank experts), group-limited as distinct_ranks_per_token. The model's graph and
// `xpusim kernel alltoall --tokens` both size it here.
//   normal_receive_tokens: the tokens a rank receives of `tokens` sent over all ep ranks, each token
//     once per rank holding any of its experts (DeepEP's recv_x, the NVLink bytes of its intranode
//     test: tests/test_intranode.py dispatch_bf16_nvl_recv_bytes), rounded up; `z` > 0: the busiest
//     rank of one step's draw (sample_step), z sqrt(tokens q (1 - q)) more, q the chance a token
//     reaches a rank (capped at `tokens`).
//   normal_forwarded_bytes: the bytes a rank sends across `nodes` nodes for its `rows` tokens of
//     `row_bytes` each, a token once per node holding any of its experts, its own node included
//     (DeepEP's tests/test_internode.py num_rdma_token_sent x hidden bytes: its "RDMA" bandwidth).
std::int64_t normal_receive_tokens(std::int64_t tokens, std::int64_t experts, std::int64_t topk, int ep, std::int64_t groups,
                                   std::int64_t groups_per_token, double z = 0.0);
std::uint64_t normal_forwarded_bytes(std::int64_t rows, std::int64_t row_bytes, std::int64_t experts, std::int64_t topk, int nodes,
                                     std::int64_t groups, std::int64_t groups_per_token);
// The bytes of one token's hidden state as an expert dispatch sends it in `dtype`: hidden x element
// size (rounded up), and for FP8 one float32 scale per 128 elements, as DeepEP sends FP8 tokens
// (per_token_cast_to_fp8 in its tests, 1 x 128 blocks; its tests count (1 + 4/128)/2 of the BF16 bytes)
// and SGLang quantises them for DeepSeek-V3 (per-token-group FP8, group 128). Other formats: no scales.
std::int64_t expert_token_bytes(std::int64_t hidden, DType dtype);

// InputError when experts + redundant does not split over ep, or redundant is negative.
ExpertPlacement place_experts(const std::vector<std::int64_t>& rows, int ep, std::int64_t redundant);

}  // namespace xpu
