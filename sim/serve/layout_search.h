// The layouts a serving unit can run a model at, and which of them serves it best: `xpusim compare`
// searches the layout of every system unit given without one ("hgx-h100x8"), pruning what does not
// fit before simulating anything.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "sim/serve/serve.h"
#include "workloads/model.h"
#include "workloads/scenario.h"

namespace xpu {

// One layout of a unit: the replica the serving engine simulates and how many identical replicas fill
// the unit (data parallelism: independent servers, so the unit serves `replicas` x the replica's
// throughput at `replicas` x its concurrency, with the same tokens/s per user and per chip).
// Data-parallel attention groups (replica.dp > 1 with ep = tp x dp) are not replicas: the groups step
// together, so the replica is the whole unit, whose engine dispatches the unit's users over the groups.
struct LayoutCandidate {
  std::string kind;      // the layout kind that proposed it ("tp-dp", "tp-ep", "dp-attention-ep")
  Scenario unit;         // the whole unit's layout ("dp4 x tp2": unit.layout_str())
  Scenario replica;      // what serve runs (unit with dp 1)
  int replicas = 1;
};

// A kind of layout: every candidate of that kind for a unit of `chips` chips (the base scenario gives
// the dtypes). Kinds: tp-dp (every model), tp-ep and dp-attention-ep (MoE models); pipeline stages would register here.
using LayoutKind = std::function<std::vector<LayoutCandidate>(int chips, const ModelConfig& model, const Scenario& base)>;
const std::vector<std::pair<std::string, LayoutKind>>& layout_kinds();
// Every kind's candidates that the model accepts (heads split evenly...), fewest chips per replica first.
std::vector<LayoutCandidate> candidate_layouts(int chips, const ModelConfig& model, const Scenario& base);
// The fewest replicas of the hottest experts that make the model's routed experts split over `ep`
// ranks (0 where they already do): what the search gives a unit of data-parallel attention, and compare
// a fixed SYSTEM:LAYOUT unit. More ranks than experts: 0 (the search leaves such units out), or with
// fill_surplus_ranks one expert per rank, the replicas filling the rest (DeepSeek-V3's decode
// deployment: one expert per GPU, arXiv 2412.19437 section 3.4), as `run --redundant-experts` would.
int fewest_redundant_experts(const ModelConfig& model, int ep, bool fill_surplus_ranks = false);

// How one candidate fared: its throughput per chip at each tier (0: unreachable) and at its most
// productive point, or why it was not simulated / did not run.
struct LayoutTrial {
  std::string layout, kind;
  bool fits = true, ran = false, chosen = false;
  // Screened at the sweep's lowest concurrency only: its most interactive point already reached fewer
  // tiers than another layout's, and a layout's tok/s per user only falls as concurrency rises, so it
  // cannot win (prune_by_tiers); its figures are that point's.
  // With per-tier reporting, a pruned layout that reaches a tier at its most interactive point is
  // screened on up the sweep until its users fall below the lowest tier (a tier it may serve best:
  // screened_to is then the last concurrency screened; it is the lowest one for the others).
  bool pruned = false;
  std::int64_t screened_to = 0;
  // The walk stopped before its users fell below the lowest tier: a bound on the rest of the sweep
  // (screen_layout_bound) showed it could not serve any tier best there (compare's search_layout).
  bool walk_cut = false;
  std::vector<double> tok_s_per_chip_at_tier;
  std::vector<double> serves_tiers;  // the tiers the unit is reported at with this layout (tier_winners)
  double max_tok_s_per_chip = 0, max_tok_s_per_user = 0;
  std::string verdict;   // "chosen: ...", "does not fit: ...", "slower: ...", "failed: ..."
};

// The screen that ranks a unit's layouts before any engine run: at each concurrency B the engine's own
// run (the same scheduler, requests and closed loop, run_engine), its iterations in two classes, those
// that prefill and those that only decode, each timed at its class's mean composition on the chip model
// (ChipStepTime::screened: the tokens part interpolated on the engine's grid, the others at the mean's own
// values; the parts kept in the cache the chosen layout's engine run shares).
// A closed loop's schedule does not depend on the iterations' times, so the schedule is the engine's: prompts admitted
// together as the prefill budget allows, each user's next prompt after its answer. Per user and per
// chip as serve reports them (fill_metrics), B counted over every attention group (each group runs B,
// the point's concurrency is B x groups). B runs over the sweep's `concurrency`, each capped at what the
// KV cache and max_seqs hold (never beyond the sweep: the screen ranks the points the engine will run).
// It uses the fixed lengths (so.input, so.output) and leaves out power throttling, prefix caching and
// speculation (the chosen layout's engine run has them); tests/unit/serve bounds its error against
// the engine.
struct ScreenPoint {
  std::int64_t concurrency = 0;
  double tok_s_per_user = 0, tok_s_per_chip = 0;
};
std::vector<ScreenPoint> screen_layout(const ChipModel& chip, const ModelConfig& model, const Scenario& replica,
                                       const ServeOptions& so, const SystemContext* sys, std::int64_t kv_tokens,
                                       std::int64_t max_seqs, std::shared_ptr<StepPartCache> cache = nullptr);

// An upper bound on screen_layout's points that simulates nothing (what a walk up the sweep could still
// find): the same schedules, each class's cost bounded from below by the parts `cache` already holds
// (ChipStepTime::screened_bound: a part's time never falls as its counts grow), so each point's tok/s
// per user and per chip are at least the screen's (infinite where nothing bounds them). The bound's
// schedule is the screen's, so the system only matters through the cached parts.
std::vector<ScreenPoint> screen_layout_bound(const ChipModel& chip, const ModelConfig& model, const Scenario& replica,
                                             const ServeOptions& so, std::int64_t kv_tokens, std::int64_t max_seqs,
                                             std::shared_ptr<StepPartCache> cache);

// Fills a trial's figures from its screen.
void score_trial(LayoutTrial& t, const std::vector<ScreenPoint>& pts, const std::vector<double>& tiers);
// The tiers a trial reaches (those where it has a point).
int tiers_reached(const LayoutTrial& t);
// After every trial that fits was screened at the sweep's lowest concurrency alone (its most
// interactive point: more users per replica only slow each user), marks `pruned` those that reach fewer
// tiers than the best: the criterion ranks tiers reached first, so they cannot win and their other
// concurrencies are not screened. Returns the trials still in the running.
std::vector<size_t> prune_by_tiers(std::vector<LayoutTrial>& trials);

// The criterion, in one sentence for reports.
const char* layout_criterion();
// Picks among the trials that ran (index into `trials`, -1: none ran) and writes each trial's verdict:
// the layout reaching the most tiers wins; ties go to the highest throughput per chip averaged over the
// tiers and the most productive point, each relative to the best of the trials reaching that many
// tiers; then fewer chips per replica.
int choose_layout(std::vector<LayoutTrial>& trials, const std::vector<double>& tiers);
// choose_layout, the choice resting on trials screened over the whole sweep: when it falls on a pruned
// trial (the layouts that beat it at the lowest concurrency failed their engine runs), every pruned
// trial still in the running is screened over the sweep by `rescreen` (which clears `pruned`) and the
// choice is made again among them.
int choose_swept_layout(std::vector<LayoutTrial>& trials, const std::vector<double>& tiers,
                        const std::function<void(size_t)>& rescreen);

// The trial that serves each tier best by its screen: the highest throughput per chip there among the
// trials that ran (-1: none reaches the tier; ties go to the earlier trial, fewer chips per replica).
// A buyer reads the frontier at named tiers, and public inference benchmarks take each point of a
// system's curve at its own parallel configuration: compare runs the engine for each of these beside
// the chosen layout and reports each tier at the layout that serves it best.
std::vector<int> tier_winners(const std::vector<LayoutTrial>& trials, size_t tiers);

// Whether trial i could still be a tier_winners pick once its screen has points up to `bound` (upper
// bounds on the points left in order of concurrency, screen_layout_bound): it is a winner now, or some bound point streams a
// tier to its users at no less throughput per chip than the best another trial already has there. When
// not, it never will be: the others' figures only grow as they are screened, and its own stay.
bool may_serve_a_tier_best(const std::vector<LayoutTrial>& trials, size_t i, const std::vector<ScreenPoint>& bound,
                           const std::vector<double>& tiers);

}  // namespace xpu
