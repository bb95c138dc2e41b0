// Config: inherits, overlays, strict validation with one-line errors naming file, key and expectation.
#include <gtest/gtest.h>

#include "sim/run/registry.h"
#include "sim/base/config.h"
#include "sim/base/flags.h"
#include "sim/base/limits.h"
#include "sim/base/process.h"
#include "sim/base/nearest_name.h"
#include "sim/base/dtype.h"
#include "sim/interconnect/system_spec.h"
#include "workloads/model.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace xpu;

namespace {
std::string data(const std::string& f) { return std::string(XPUSIM_SOURCE_DIR) + "/tests/data/presets/" + f; }
std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Config, InheritsAndOverridesOnlyWhatDiffers) {
  auto chip = load_chip(data("tiny_gpu.yaml"));
  EXPECT_NE(chip->resolved_yaml().find("count: 4"), std::string::npos);
  EXPECT_DOUBLE_EQ(chip->dram_bandwidth(), 3.35e12);  // inherited from the H100
}

TEST(Config, OverlayUsesTheSameMechanism) {
  auto chip = load_chip("h100-sxm", {"hbm.bandwidth=4TB/s", "sm.count=66"});
  EXPECT_DOUBLE_EQ(chip->dram_bandwidth(), 4e12);
  EXPECT_DOUBLE_EQ(chip->peak_flops(DType::bf16), 4096.0 * 66 * 1.83e9);
  EXPECT_NE(chip->resolved_yaml().find("bandwidth: 4 TB/s"), std::string::npos);
}

TEST(Config, UnknownKeyNamesFileKeyAndNearestValidKey) {
  std::string e = error_of([] { load_chip(data("bad_key.yaml")); });
  EXPECT_NE(e.find("bad_key.yaml"), std::string::npos) << e;
  EXPECT_NE(e.find("hbm.bandwith"), std::string::npos) << e;
  EXPECT_NE(e.find("nearest valid key: hbm.bandwidth"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << "one line";
}

// QA (session 53): an InputError carries what it is about as data (the Python module's InputError.flag/.value/.file/.key),
// set where it is raised; a caller that adds context to its message keeps them.
TEST(Config, AnInputErrorCarriesItsFlagValueFileAndKey) {
  auto caught = [](const std::function<void()>& fn) {
    try {
      fn();
    } catch (const InputError& e) {
      return e;
    }
    return InputError("");
  };
  InputError e = caught([] { parse_flag_list<std::int64_t>("--concurrency", "1,x", "users", 1e6); });
  EXPECT_EQ(e.flag() + " " + e.value(), "--concurrency 1,x") << e.what();
  e = caught([] { check_flag_choice("--format", "xml", {"table", "json"}); });
  EXPECT_EQ(e.flag() + " " + e.value(), "--format xml") << e.what();
  e = caught([] { parse_memory_limit("XPUSIM_MAX_MEMORY", "1 parsec"); });  // an environment variable is no flag
  EXPECT_EQ(e.flag() + "|" + e.value(), "|1 parsec") << e.what();
  e = caught([] { load_chip(data("bad_key.yaml")); });
  EXPECT_NE(e.file().find("bad_key.yaml"), std::string::npos) << e.what();
  EXPECT_EQ(e.key(), "hbm.bandwith") << e.what();
  EXPECT_EQ(e.flag(), "") << e.what();
  e = caught([] { load_chip("h100-sxm", {"hbm.bandwith=4TB/s"}); });
  EXPECT_EQ(e.flag() + " " + e.key() + "|" + e.file(), "--set hbm.bandwith|") << e.what();
  e = caught([] { load_chip("h100-sxm", {"family=tpu"}); });
  EXPECT_EQ(e.flag() + " " + e.value(), "--set family=tpu") << e.what();
  const InputError wrapped("pools: " + std::string(e.what()), e);
  EXPECT_EQ(wrapped.flag() + " " + wrapped.value(), "--set family=tpu");
}

// QA (session 54): the other raise sites carry their data too: a message about a command line the code built names
// its first flag (first_of), a study file's key (in_file), a size limit its flag, and the data survive a worker process.
TEST(Config, AnErrorCarriesTheFirstFlagItNamesAndCrossesAWorkerProcess) {
  const InputError pools = InputError::first_of("--prefill-devices 4 --decode-devices 4: need a system", "--prefill-devices 4 --decode-devices 4");
  EXPECT_EQ(pools.flag() + " " + pools.value(), "--prefill-devices 4");
  EXPECT_EQ(InputError::first_of("x", "--trace").flag(), "--trace");
  EXPECT_EQ(InputError::first_of("x", "tp2 x pp1").flag(), "");  // not a command line: no data
  const InputError study = InputError::in_file("s.yaml: tiers '0': ...", "s.yaml", "tiers");
  EXPECT_EQ(study.file() + "|" + study.key() + "|" + study.flag(), "s.yaml|tiers|");
  EXPECT_EQ(ResourceError("... raise it with --max-memory", "--max-memory").flag(), "--max-memory");
  for (const InputError& thrown : {InputError("--tp 3 does not divide", "--tp", "3"), study}) {
    try {
      run_in_workers({0}, 1, 1, [&](size_t) -> std::string { throw thrown; }, [](size_t) { return std::string("unit"); });
      ADD_FAILURE() << "no error";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()), "unit: " + std::string(thrown.what()));
      EXPECT_EQ(e.flag() + "|" + e.value() + "|" + e.file() + "|" + e.key(),
                thrown.flag() + "|" + thrown.value() + "|" + thrown.file() + "|" + thrown.key());
    }
  }
}

// QA (qa55): an unknown name raised where it is looked up gets the flag whose value was being resolved, its message
// kept; an error that carries its own data (a --set key's) or is of another kind passes as it is.
TEST(Config, ResolvingAFlagsValueGivesItsErrorsTheFlag) {
  try {
    resolving("--chip", "h100x", []() -> int { throw InputError("unknown chip 'h100x'; valid chips: h100-sxm"); });
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()) + "|" + e.flag() + "|" + e.value(), "unknown chip 'h100x'; valid chips: h100-sxm|--chip|h100x");
  }
  try {
    resolving("--chip", "h100-sxm", []() -> int { throw ConfigError("--set hbm.bw", "hbm.bw", "unknown key"); });
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.flag() + "|" + e.key(), "--set|hbm.bw");
  }
  try {
    resolving("--chip", "h100x", [] { return load_chip("h100x"); });  // the registry's own message
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("unknown chip 'h100x'; valid chips: ", 0), 0u) << e.what();
    EXPECT_EQ(e.flag() + "|" + e.value(), "--chip|h100x");
  }
  EXPECT_THROW(resolving("--model", "m", []() -> int { throw ResourceError("too big"); }), ResourceError);
  EXPECT_EQ(resolving("--model", "m", [] { return 7; }), 7);
}

// QA (qa56): the flags a message names besides its own are data too (mentions: a command line's later flags with their
// values), and they cross a worker process; an unknown name carries the name as its value where it is looked up, and a
// refusal about a chip's key names the key.
TEST(Config, AnErrorCarriesTheOtherFlagsItNamesAndEveryUnknownNameItsValue) {
  using Mentions = std::vector<std::pair<std::string, std::string>>;
  const InputError layout = InputError::first_of("--tp 2 x --pp 1 x --dp 1 = 2 devices", "--tp 2 x --pp 1 x --dp 1");
  EXPECT_EQ(layout.flag() + " " + layout.value(), "--tp 2");
  EXPECT_EQ(layout.mentions(), (Mentions{{"--pp", "1"}, {"--dp", "1"}}));
  EXPECT_EQ(InputError::first_of("x", "--prefix-hit --spec-tokens").mentions(), (Mentions{{"--spec-tokens", ""}}));
  const InputError topk = InputError("topk 9 > experts 8", "--topk", "9").mentioning("--experts", "8");
  EXPECT_EQ(InputError("topk: " + std::string(topk.what()), topk).mentions(), topk.mentions());  // a caller's words added
  try {
    run_in_workers({0}, 1, 1, [&](size_t) -> std::string { throw layout; }, [](size_t) { return std::string("unit"); });
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.flag() + " " + e.value(), "--tp 2");
    EXPECT_EQ(e.mentions(), layout.mentions());
  }
  const InputError keyed = InputError("h100-sxm: no GEMM tile fits", "", "h100-sxm").with_key("", "sm.smem_per_block");
  EXPECT_EQ(keyed.value() + "|" + keyed.key() + "|" + keyed.flag(), "h100-sxm|sm.smem_per_block|");
  auto value_of = [](auto f) {
    try {
      f();
    } catch (const InputError& e) {
      return e.flag() + "|" + e.value();
    }
    return std::string("no error");
  };
  EXPECT_EQ(value_of([] { load_chip("h100x"); }), "|h100x");
  EXPECT_EQ(value_of([] { parse_dtype("bf17"); }), "|bf17");
  EXPECT_EQ(value_of([] { parse_dtype("bf17", "--dtype"); }), "--dtype|bf17");
  EXPECT_EQ(value_of([] { load_system("hgx-h100x9"); }), "|hgx-h100x9");
  EXPECT_EQ(value_of([] { load_model("llama-9x"); }), "|llama-9x");
  // A folder without a config.json is named as one (it was "no such shipped model or file", which it is not).
  const std::string folder = testing::TempDir() + "qa56_model_folder";
  std::filesystem::create_directories(folder);
  EXPECT_EQ(value_of([&] { load_model(folder); }), "|" + folder);
  try {
    load_model(folder);
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(": model: a folder without a config.json"), std::string::npos) << e.what();
  }
}

TEST(Config, WrongUnitSaysWhatWasExpected) {
  std::string e = error_of([] { load_chip(data("bad_unit.yaml")); });
  EXPECT_NE(e.find("hbm.bandwidth"), std::string::npos) << e;
  EXPECT_NE(e.find("TB/s"), std::string::npos) << e;
}

TEST(Config, SetOnAMissingKeyIsAnError) {
  std::string e = error_of([] { load_chip("h100-sxm", {"hbm.bandwith=4TB/s"}); });
  EXPECT_NE(e.find("--set"), std::string::npos) << e;
  EXPECT_NE(e.find("hbm.bandwidth"), std::string::npos) << e;
  EXPECT_NE(error_of([] { load_chip("h100-sxm", {"hbm.bandwidth"}); }).find("key.path=value"), std::string::npos);
}

TEST(Config, MissingRequiredFieldIsNamed) {
  ConfigTree t = ConfigTree::load_string("family: gpu\nsm:\n  count: 4\n", "inline.yaml");
  std::string e = error_of([&] { family("gpu").load(t); });
  EXPECT_NE(e.find("inline.yaml"), std::string::npos) << e;
  EXPECT_NE(e.find("missing required field"), std::string::npos) << e;
}

TEST(Config, AValueWhereASectionBelongsIsNamed) {
  // `hbm: 5` (a file, an inheriting file or --set) said "hbm.capacity: missing required field" or "hbm: unknown
  // key (nearest valid key: hbm.model)"; it names the value and the section's keys now.
  std::string e = error_of([] { load_chip("h100-sxm", {"hbm=5"}); });
  EXPECT_EQ(e, "--set hbm: '5': expected a section of keys (hbm.capacity, hbm.bandwidth, hbm.efficiency, ...), not a value");
  ConfigTree t = ConfigTree::load_string("family: gpu\nsm: 4\n", "inline.yaml");
  e = error_of([&] { family("gpu").load(t); });
  EXPECT_EQ(e.rfind("inline.yaml:2: sm: '4': expected a section of keys (sm.count", 0), 0u) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << "one line";
}

namespace {
// A preset inheriting the H100 with `body` added, written beside the test data (absolute inherits path).
std::string h100_child(const std::string& name, const std::string& body) {
  const std::string path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream(path) << "inherits: " << XPUSIM_SOURCE_DIR << "/chips/gpu/presets/h100_sxm.yaml\n" << body;
  return path;
}
}  // namespace

TEST(Config, AListWhereOneValueGoesIsRefused) {
  // QA: `count: [132]` read as 132 (a sequence's items are joined for the text fields that hold lists; a one-item
  // list joined to its item). A number, unit or flag field names the list now; a text field still takes one.
  ConfigTree t = ConfigTree::load_string("family: gpu\nsm:\n  count: [132]\n", "inline.yaml");
  std::string e = error_of([&] { family("gpu").load(t); });
  EXPECT_EQ(e.rfind("inline.yaml:3: sm.count: '[132]': expected an integer, not a list", 0), 0u) << e;
  e = error_of([] { load_chip(h100_child("xpusim_list_bw.yaml", "hbm:\n  bandwidth:\n    - 3.35 TB/s\n")); });
  EXPECT_NE(e.find("hbm.bandwidth: '[3.35 TB/s]': expected a bandwidth, not a list"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << "one line";
}

TEST(Config, PowerGivenAValueIsNamedAsASection) {
  // `power: 5` said "power: unknown key (nearest valid key: name)": power.* is bound apart from the family's
  // schema, and the bare section name went to the family's. It names the value and the section's keys, as hbm.
  std::string e = error_of([] { load_chip(h100_child("xpusim_power_value.yaml", "power: 5\n")); });
  EXPECT_NE(e.find("power: '5': expected a section of keys (power."), std::string::npos) << e;
  EXPECT_EQ(e.find("nearest valid key"), std::string::npos) << e;
  e = error_of([] { load_chip("h100-sxm", {"power=5"}); });
  EXPECT_EQ(e.rfind("--set power: '5': expected a section of keys (power.", 0), 0u) << e;
  e = error_of([] { load_chip("h100-sxm", {"cost=5"}); });
  EXPECT_EQ(e.rfind("--set cost: '5': expected a section of keys (cost.", 0), 0u) << e;
}

TEST(Config, HexadecimalIsRefusedAlikeInAPresetAndSetQuotingTheValueAsTyped) {
  // A preset read `count: 0x10` as 16 (std::stod reads hex) while --set refused '0 x10' (its unit spacing split
  // the value); one rule now, decimal only, and both quote what was typed.
  std::string e = error_of([] { load_chip(h100_child("xpusim_hex_value.yaml", "sm:\n  count: 0x10\n")); });
  EXPECT_NE(e.find("sm.count: '0x10': expected a plain decimal number"), std::string::npos) << e;
  e = error_of([] { load_chip("h100-sxm", {"sm.count=0x10"}); });
  EXPECT_NE(e.find("sm.count: '0x10': expected a plain decimal number"), std::string::npos) << e;
  EXPECT_EQ(e.find("0 x10"), std::string::npos) << e;
  EXPECT_DOUBLE_EQ(load_chip("h100-sxm", {"sm.count=16"})->peak_flops(DType::bf16), 4096.0 * 16 * 1.83e9);
}

TEST(Config, UnknownChipListsTheValidOnes) {
  std::string e = error_of([] { load_chip("h100"); });
  EXPECT_NE(e.find("h100-sxm"), std::string::npos) << e;
}

TEST(Config, EveryPresetLoadsAndReportsAPeak) {
  for (const auto& p : list_presets()) {
    auto chip = load_chip(p.name);
    EXPECT_GT(chip->dram_bandwidth(), 0) << p.name;
    EXPECT_FALSE(chip->dtypes().empty()) << p.name;
  }
}

// yaml_without_comments (config.cpp): every YAML file of the tree parses to the same nodes at the same
// places with and without its comments, and values that hold '#' or run over lines are left alone.
namespace {
bool same_nodes(const YAML::Node& a, const YAML::Node& b, std::string& why) {
  if (a.Type() != b.Type() || a.Mark().line != b.Mark().line || a.Mark().column != b.Mark().column) {
    why = "type or place differs at line " + std::to_string(a.Mark().line + 1);
    return false;
  }
  if (a.IsScalar() && a.Scalar() != b.Scalar()) {
    why = "'" + a.Scalar() + "' became '" + b.Scalar() + "'";
    return false;
  }
  if (a.IsSequence() || a.IsMap()) {
    if (a.size() != b.size()) {
      why = "size differs at line " + std::to_string(a.Mark().line + 1);
      return false;
    }
    auto ia = a.begin();
    auto ib = b.begin();
    for (; ia != a.end(); ++ia, ++ib) {
      if (a.IsSequence() && !same_nodes(*ia, *ib, why)) return false;
      if (a.IsMap() && (!same_nodes(ia->first, ib->first, why) || !same_nodes(ia->second, ib->second, why)))
        return false;
    }
  }
  return true;
}
}  // namespace

TEST(Config, CommentsBlankedParseTheSame) {
  namespace fs = std::filesystem;
  int files = 0;
  for (const char* dir : {"chips", "workloads", "scripts", "tests/data", "tests/fuzz/corpus"})
    for (const auto& f : fs::recursive_directory_iterator(std::string(XPUSIM_SOURCE_DIR) + "/" + dir)) {
      if (f.path().extension() != ".yaml") continue;
      std::ifstream in(f.path());
      std::stringstream ss;
      ss << in.rdbuf();
      const std::string text = ss.str();
      YAML::Node a, b;
      try {
        a = YAML::Load(text);
      } catch (const YAML::Exception&) {
        EXPECT_THROW(YAML::Load(yaml_without_comments(text)), YAML::Exception) << f.path();
        continue;
      }
      b = YAML::Load(yaml_without_comments(text));
      std::string why;
      EXPECT_TRUE(same_nodes(a, b, why)) << f.path() << ": " << why;
      ++files;
    }
  EXPECT_GT(files, 40);
  const std::string presets = std::string(XPUSIM_SOURCE_DIR) + "/chips/gpu/presets/h100_sxm.yaml";
  std::ifstream in(presets);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_LT(yaml_without_comments(ss.str()).size() * 3, ss.str().size());  // the comments did go
}

TEST(Config, CommentsBlankedKeepValuesWithHashes) {
  const char* same[] = {"a: 'x '' # y'  # c\n", "a: \"x \\\" # y\"  # c\n", "a: http://h#f  # c\n", "a: [1, '# b']  # c\n",
                        "- 'it''s # not'\n", "{a: \"#\", b: 2}  # c\n"};
  for (const char* t : same) {
    std::string why;
    EXPECT_TRUE(same_nodes(YAML::Load(t), YAML::Load(yaml_without_comments(t)), why)) << t << ": " << why;
  }
  // A block scalar or a quoted scalar over two lines: the text is kept as it is.
  EXPECT_EQ(yaml_without_comments("a: |\n  x # y\n"), "a: |\n  x # y\n");
  EXPECT_EQ(yaml_without_comments("a: \"x\n  # y\"\n"), "a: \"x\n  # y\"\n");
  EXPECT_EQ(yaml_without_comments("# top\na: 1   # one\n\nb: 2\n"), "\na: 1\n\nb: 2\n");
}

TEST(Nearest, PrefersACandidateTheWordBegins) {
  // "h100" is one edit from "h200" and four from "h100-sxm"; a user typing it means the H100.
  const std::vector<std::string> chips = {"a100-sxm", "h200", "h100-sxm", "b200"};
  EXPECT_EQ(nearest_of(std::string("h100"), chips), "h100-sxm");
  EXPECT_EQ(nearest_of(std::string("h300"), chips), "h200");  // no candidate begins it: edit distance
  EXPECT_EQ(nearest(std::string("tpu-v6"), {"tpu-v6e-256", "tpu-v6e", "tpu-v5e"}), "tpu-v6e");  // the shortest
}

TEST(Nearest, NamesNothingFarFromTheWord) {
  // nearest_of was documented to return "" when nothing is close but always named the nearest: `compare --chips foo`
  // said "did you mean b200?" (QA session 42). Rule: at most max(2, a third of the word's length) edits.
  const std::vector<std::string> chips = {"a100-sxm", "h200", "h100-sxm", "b200", "tpu-v6e", "maia200"};
  EXPECT_EQ(nearest_of(std::string("h100-sx"), chips), "h100-sxm");  // a near miss keeps its hint
  EXPECT_EQ(nearest_of(std::string("maia20"), chips), "maia200");
  EXPECT_EQ(nearest_of(std::string("tpu-v6f"), chips), "tpu-v6e");
  EXPECT_EQ(nearest_of(std::string("foo"), chips), "");
  EXPECT_EQ(nearest_of(std::string("quantum-x"), chips), "");
  EXPECT_TRUE(close_enough("foo", 2) && !close_enough("foo", 3) && close_enough("scale_upp.link.bandwidth", 8));
  const std::vector<std::string> keys = {"sm.count", "sm.clock", "hbm.bandwidth", "scale_up.link.bandwidth", "clock"};
  EXPECT_EQ(nearest_of(std::string("sm.cuont"), keys), "sm.count");  // a misspelt preset key
  EXPECT_EQ(nearest_of(std::string("hbm.bandwith"), keys), "hbm.bandwidth");
  EXPECT_EQ(nearest_of(std::string("scale_upp.link.bandwidth"), keys), "scale_up.link.bandwidth");
  EXPECT_EQ(nearest_of(std::string("mxu.clock"), std::vector<std::string>{"clock", "cores"}), "clock");  // its last part
  EXPECT_EQ(nearest_of(std::string("zzzz.qqqq"), keys), "");
}

TEST(Nearest, ClauseNamesACloseCandidateAndNothingElse) {
  // A dozen messages assembled " (did you mean X?)" by hand (QA session 43): one helper now, with nearest_of's rule.
  const std::vector<std::string> chips = {"a100-sxm", "h200", "h100-sxm", "b200"};
  EXPECT_EQ(nearest_clause("h100-sx", chips), " (did you mean h100-sxm?)");
  EXPECT_EQ(nearest_clause("foo", chips), "");  // four edits from b200: too far to be a typo of it
  EXPECT_EQ(nearest_clause("quantum-x", chips, kNearestKey), "");
  const std::vector<std::string> keys = {"sm.count", "hbm.bandwidth"};
  EXPECT_EQ(nearest_clause("hbm.bandwith", keys, kNearestKey), " (nearest valid key: hbm.bandwidth)");
  EXPECT_EQ(nearest_clause("hbm.bandwith", keys, kThenNearestKey), "; nearest valid key: hbm.bandwidth");
  EXPECT_EQ(nearest_clause("byts", std::vector<std::string>{"bytes", "m"}, kDidYouMeanFlag), " (did you mean --bytes?)");
  EXPECT_EQ(hint_clause(""), "");
  EXPECT_EQ(hint_clause("vllm", kThenDidYouMean), "; did you mean vllm?");
}

TEST(Nearest, NearestNamePrefersTheNameATypoAbbreviates) {
  // "attn" is nearer "gemm" (four edits) than "attention" (five); a user typing it means attention.
  const std::vector<std::string> ops = {"gemm", "grouped_gemm", "attention", "rmsnorm", "layernorm", "allgather"};
  EXPECT_TRUE(abbreviates("attn", "attention"));
  EXPECT_FALSE(abbreviates("attn", "allgather"));  // no second t
  EXPECT_FALSE(abbreviates("tn", "attention"));    // from the first letter
  EXPECT_EQ(nearest_name("attn", ops), "attention");
  EXPECT_EQ(nearest_name("gem", ops), "gemm");          // both begin with it: the nearer
  EXPECT_EQ(nearest_name("rmsnrm", ops), "rmsnorm");
  EXPECT_EQ(nearest_name("atention", ops), "attention");  // a letter left out
  EXPECT_EQ(nearest_name("gemn", ops), "gemm");           // no abbreviation: edit distance
  EXPECT_EQ(nearest_name("xyz", ops), "");  // nothing close: no hint
}

TEST(Config, APriceGivenWithoutItsSourceIsAnAssumption) {
  // `published: true` and `source` vouch for the price of the layer that gave them: a --set price, or a preset
  // that inherits the H100 and changes only its price, kept "published" and AWS's source, so compare printed
  // "published list price" beside the user's $1.00 (QA session 40).
  auto h100 = load_chip("h100-sxm");
  EXPECT_TRUE(h100->cost().published);
  EXPECT_EQ(h100->cost().source.rfind("AWS EC2 Capacity Blocks", 0), 0u);
  EXPECT_FALSE(h100->cost().unit_price_source.empty());
  auto set = load_chip("h100-sxm", {"cost.chip_hour=1", "cost.unit_price=20000"});
  EXPECT_FALSE(set->cost().published);
  EXPECT_EQ(set->cost().source, "as given with --set");
  EXPECT_TRUE(set->cost().unit_price_source.empty());
  auto vouched = load_chip("h100-sxm", {"cost.chip_hour=1", "cost.published=true", "cost.source=my contract"});
  EXPECT_TRUE(vouched->cost().published);
  EXPECT_EQ(vouched->cost().source, "my contract");
  const std::string child = h100_child("xpusim_price_only.yaml", "cost:\n  chip_hour: 2\n");
  auto mine = load_chip(child);
  EXPECT_FALSE(mine->cost().published);
  EXPECT_EQ(mine->cost().source, "as given in " + child);
  EXPECT_FALSE(mine->cost().unit_price_source.empty());  // the H100's unit price and its source, both inherited
  // Every shipped preset keeps what it states.
  EXPECT_TRUE(load_chip("h200")->cost().published);
  EXPECT_TRUE(load_chip("a100-sxm")->cost().published);
  EXPECT_FALSE(load_chip("tpu-v5p")->cost().published);
}
