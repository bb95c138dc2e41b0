// How long one server iteration takes on a chip: the iteration's batch composition (prefill chunks,
// decode sequences and their contexts) turned into the model's kernels and simulated on the chip
// model, cached on a grid of compositions so a serving study stays fast.
#pragma once
#include <climits>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sim/run/model_run.h"
#include "sim/serve/engine.h"

namespace xpu {

// A step is the sum of its kernels, and each kernel depends on one aspect of the composition, so the
// step is split into parts, each simulated on its own grid and interpolated linearly between the
// grid points around the wanted value (exact on grid points):
//   tokens(T):            every per-token kernel (projections, MLP, norms, RoPE, residuals, embedding)
//                         of T = prefill + decode tokens; MLA models take the decode (absorbed) form.
//   head(R):              final norm, LM head and sampling for R sequences.
//   decode attention(D, C): D sequences against a mean context of C tokens (paged decode kernel).
//   prefill attention(N, Q, K): N chunks of a mean Q new tokens against a mean K keys (causal, the
//                         queries being the last Q positions), one batched kernel as the varlen
//                         kernels of vLLM and TensorRT-LLM run them.
//   decode(D, C):         with two-batch overlap, a decode-only iteration's tokens and decode attention
//                         parts as one (the overlap interleaves both; Part::Decode below).
// Grid: every integer up to 16, then four points per octave (16, 19, 23, 27, 32, ...), so a value
// is at most 19% from the grid point below it. tests/unit/serve bounds the interpolation error
// against direct simulation of the same composition.
// The decode attention's context (decode(D, C) and decode attention(D, C)) also takes the points where
// the kernel's lowering changes its launches: a decode kernel splits a longer context over more blocks
// (FlashInfer's split at 128 tokens, a TPU's or NeuronCore's KV split), a step in time that a line
// between the grid points around it would blur (at 129 tokens, 1 split -> 2, it was 4.4% low). Where
// the launches at the grid points differ from those at the wanted context, the bracket narrows to the
// contexts nearest it with the same launches (bisection on the lowering, which simulates nothing), so
// the step is exact at either side of the change and interpolated only where the launches agree.
//   verification(V, Q, K): speculative decode steps, V sequences verifying a mean Q tokens (the last
//                         one and its drafts) against a mean K keys: the prefill-attention part at
//                         that shape (a short causal chunk, as the engines run their verify kernels).
// Speculative decoding also runs the drafter: its first pass takes the iteration's prefill tokens and
// one token per verifying sequence, then k-1 more passes of one token per verifying sequence, each
// timed by a drafter (a draft model or MTP module simulated on the chip, on a system over the target's
// TP group with its own collectives, or a stated fraction of the target's cost for the same tokens).
// The simulated parts of one chip, model, layout and system, shared by the runs that have them in
// common (the points of a serving sweep, a layout's screen and its engine run): the owner shares it
// only between ChipStepTimes built from the same inputs.
struct StepPartCache {
  std::map<std::pair<int, std::vector<std::int64_t>>, StepCost> parts;
};

// The layout a simulated drafter runs at beside the target's `target` (ChipStepTime::set_drafter, make_drafter): no
// pipeline (vLLM builds it on the last stage only), no expert layout unless it has experts, and the target's TP group
// unless `tp` (Drafter::tp) is smaller: then that many ranks of it (1: the group's first rank, no collective; a dense
// drafter, without sequence parallelism, two-batch overlap or padded heads, which need a TP group).
Scenario drafter_scenario(const Scenario& target, const ModelConfig& draft, int tp = 0);

class ChipStepTime {
 public:
  // With `sys` every part runs on the system with sc's layout through the system runtime, the path
  // `run` takes (run_system_graphs): every simulated rank's part of the part's graph (its stage's
  // layers, its experts), collectives on the fabric. Each replica (dp) runs the composition asked
  // (their step is one); with pipeline stages each part is one replica's micro-batch (1/M of the
  // composition's counts), run as M micro-batches in the pipeline's steady state, M the layout's
  // micro-batches or the composition's sequences where fewer (vLLM, TensorRT-LLM and SGLang place whole
  // requests in a micro-batch: a lone prompt crosses every stage in turn).
  ChipStepTime(const ChipModel& chip, const ModelConfig& model, const Scenario& sc, bool interpolate = true,
               const SystemContext* sys = nullptr, std::shared_ptr<StepPartCache> cache = nullptr);
  StepCost operator()(const StepShape& s);
  StepCost direct(const StepShape& s);  // every part at the composition's own values (no grid)
  // Data-parallel attention (ep > tp, DpAttention): the step of `dp` ranks that each run their own
  // composition (an idle rank's is empty). Where every rank runs the same one, operator() of it (each
  // part already runs it on every rank). Otherwise each rank's time is its own composition's with the
  // part that depends on the group's tokens taken at the ranks' mean: the MoE's expert all-to-alls and
  // grouped expert GEMMs (the rows routed to a rank come from every rank), the tokens part less the
  // per-rank kernels (RankTokens: projections, norms, router, shared experts, TP collectives). An idle
  // rank runs only that share (its empty batch joins the all-to-alls). The slowest rank sets the step
  // (the all-to-alls end when its tokens are in); rank_wait_s is the others' mean wait. DeepEP's normal
  // kernels where any rank has prompt work (SGLang gathers is_extend_in_batch); their all-to-alls are
  // sized per rank: each rank sends its own tokens (and receives them back in the combine), so the
  // largest rank's tokens set them (the slowest sender), the expert GEMMs staying at the mean. It
  // ignores that a rank's expert load depends on which ranks' tokens route to it (uniform over ranks,
  // as the part assumes).
  StepCost group(const std::vector<StepShape>& ranks);
  // The layout screen's cost of a composition: the tokens part (the per-token kernels, the costliest
  // part, simulated at the layout's whole token budget in prefill iterations) interpolated on the grid
  // as the engine run takes it, so the chosen layout's engine sweep finds those parts in the shared
  // cache; the other parts (cheap, and the ones whose composition the class means blur) at their own
  // values, as direct() takes them.
  StepCost screened(const StepShape& s);
  // A lower bound on screened(s) that simulates nothing: each part it would take is read from the
  // cache at the most costly part held whose counts are all at most the wanted ones (0 where none is),
  // the drafter left out. It rests on a part's time never falling as its counts grow (more tokens,
  // sequences, chunks, context: more work), the premise of the layout search's walk pruning
  // (tests/unit/serve checks it on the parts a screen simulates).
  StepCost screened_bound(const StepShape& s);
  // Parts simulated by this object (a shared cache's earlier parts not counted).
  std::int64_t simulated_parts() const {
    return static_cast<std::int64_t>(m_cache->parts.size()) - m_inherited + (m_drafter ? m_drafter->simulated_parts() : 0);
  }
  // Speculative decoding: the drafter is `draft` simulated on the same chip (`fraction` 0), or the
  // target's own cost scaled by `fraction` (`draft` null). On a system the draft model runs on the
  // target's tensor-parallel group, as the serving stacks run it (vLLM's draft_tensor_parallel_size
  // defaults to the target's, V1's draft-model proposer refuses another; SGLang's EAGLE worker is a
  // TpModelWorker of the target's tp size): its GEMMs sharded the target's way and its passes' TP
  // collectives on the fabric through the system runtime, as the target's parts run theirs. `cache`:
  // the drafter's parts, shared by the points of a study (the target's cache keys hold no model).
  // `tp` 1 beside a larger target tp (Drafter::tp, serve.h: vLLM V0's SmallerTpProposerWorker): the draft model runs
  // whole on each TP group's first rank with no collective while the group's other ranks wait (drafter_scenario).
  void set_drafter(const ModelConfig* draft, double fraction, std::shared_ptr<StepPartCache> cache = nullptr, int tp = 0);

  // On a system, how many repetitions of a repeated layer block each part simulates (RankSteps::
  // max_repeats: the others at the last one's period); 0 simulates every layer. tests/unit/serve bounds
  // the difference.
  static constexpr int kLayerRepeats = 3;

  // On a system: whether a step's cost carries its collectives (StepCost::collectives, for a simulation of the
  // fabric beside them: disaggregated serving's KV transfers). The parts' own simulations run them either way;
  // each part of the step brings its collectives (interpolated between grid corners as its time is), placed by
  // their share of the part's time over the whole step (a step's parts interleave layer by layer: the per-token
  // kernels' all-reduces are spread over the attention too). Off: none (no cost to the other callers). A part
  // keeps its collectives when simulated with it on: turn it on before the first step, on a cache of its own.
  // A drafter's passes run after the target's forward (vLLM proposes after the verifying pass, SGLang's
  // EAGLE worker drafts after it verifies): its collectives come after the target's in the step, pass by
  // pass. A fraction drafter's are the target's of the same tokens scaled as its time is (bytes and time
  // x the fraction: a drafter f times the target's cost, its communication included).
  void set_timeline(bool on) {
    m_timeline = on;
    if (m_drafter) m_drafter->set_timeline(on);
  }
  void set_layer_repeats(int n) {
    m_layer_repeats = n;
    if (m_drafter) m_drafter->set_layer_repeats(n);
  }

  // The grid points around x (one if x is on the grid), none above `cap`.
  static std::vector<std::int64_t> bracket(std::int64_t x, std::int64_t cap = INT64_MAX);

 private:
  // PrefillTokens: the Tokens part of an iteration with a prefill, where its expert all-to-alls run as
  // DeepEP's normal kernels (a token once per rank, once per node across nodes) rather than its
  // low-latency ones (SGLang's --deepep-mode auto: normal for any batch with an extend); only a MoE
  // layout with data-parallel attention tells the two apart.
  // Decode(D, C): with two-batch overlap, an iteration of D decode sequences (a mean context of C) as
  // one part, the per-token kernels and the attention together, because the overlap interleaves the
  // micro-batches' attention too: one's attention runs while the other's dispatch or combine is on
  // the wire (SGLang's two-batch overlap splits the whole layer, attention included). Simulated apart,
  // the attention could hide no collective. The step is then the part `run` simulates for that batch
  // and context, less the LM head (its own part).
  // RankTokens(T): the Tokens part's kernels that run on a rank's own T tokens, without the MoE's
  // all-to-alls and expert GEMMs (whose rows come from every rank of a data-parallel attention group).
  // LocalTokens(T): the PrefillTokens part without the MoE's all-to-alls (the expert GEMMs kept), so that a
  // group's all-to-alls and expert GEMMs can be taken at different tokens (group()).
  enum Part : int { Tokens, Head, DecodeAttn, PrefillAttn, PrefillTokens, Decode, RankTokens, LocalTokens };
  const StepCost& part(Part p, std::vector<std::int64_t> args);  // simulated at exactly these values (cached)
  Scenario part_scenario(Part p, const std::vector<std::int64_t>& args) const;
  Graph part_graph(Part p, const std::vector<std::int64_t>& args, const Scenario& s, const RankPart& rank_part) const;
  // The part's attention launches at `args` as the chip lowers them (each launch's name, strategy and
  // blocks): equal on both sides of a context where the kernel's split plan is the same.
  const std::string& attention_launches(Part p, const std::vector<std::int64_t>& args);
  // The bracket {lo, hi} of dimension d (the context) narrowed to the contexts around `at[d]` whose
  // attention launches are at[d]'s (one point where at[d] is alone in its plan within the bracket).
  std::vector<std::int64_t> same_launches(Part p, std::vector<std::int64_t> at, size_t d, const std::vector<std::int64_t>& br);
  StepCost interpolated(Part p, const std::vector<double>& x);
  StepCost compose(const StepShape& s, bool grid, bool drafter, bool grid_tokens_only = false);
  StepCost drafting(const StepShape& s, bool grid);
  int microbatches() const;
  int part_code(Part p) const;  // the part and its micro-batches, as m_cache->parts and m_launches key them

  const ChipModel& m_chip;
  const ModelConfig& m_model;
  Scenario m_sc;
  FusionPolicy m_fusion;
  double m_weight_bytes = 0;
  bool m_interpolate = true;
  const SystemContext* m_sys = nullptr;
  int m_layer_repeats = kLayerRepeats;
  bool m_bound = false;
  bool m_timeline = false;
  StepCost m_scratch;  // part()'s bound, returned by reference  // screened_bound: parts read from the cache below the wanted counts, never simulated
  // Micro-batches of the composition being costed (0: the layout's). A micro-batch holds whole
  // sequences, so an iteration of fewer sequences than the layout's micro-batches fills only that many.
  int m_mb = 0;
  // group(): the ranks' mean tokens that the MoE's group-wide share is taken at (< 0: the composition's
  // own), and whether any rank of the group has prompt work (DeepEP's normal kernels for all).
  double m_group_tokens = -1, m_group_most = 0;  // and the largest rank's tokens
  bool m_group_extend = false;
  std::shared_ptr<StepPartCache> m_cache;
  std::map<std::pair<int, std::vector<std::int64_t>>, std::string> m_launches;  // attention_launches, by part and args
  std::int64_t m_inherited = 0;  // parts the cache held when this object was built
  std::unique_ptr<ChipStepTime> m_drafter;  // a draft model on the same chip (on a system: the same TP group)
  double m_draft_fraction = 0;              // or the drafter as a share of the target's cost
};

}  // namespace xpu
