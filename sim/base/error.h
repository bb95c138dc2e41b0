// Error types: every user-facing failure is one line naming where (file, key) and what was expected.
#pragma once
#include <algorithm>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

namespace xpu {

// Bad user input (CLI arguments, config files, model files). The CLI prints what() and exits non-zero.
// What it is about, as data beside the message: `flag` the command-line flag as typed ("--tp", "--set"), `value` the
// text given to it ("" when none); `file` and `key` for a config value (a preset or model file, or "--set KEY"). The
// Python module exposes them as InputError.flag/.value/.file/.key (None when empty) and names the caller's keyword
// from the flag. `mentions`: the other flags the message names, each with the value it gives them, so that a front end
// that names flags otherwise (Python's keywords) renames each from data, not by reading the text.
class InputError : public std::runtime_error {
 public:
  explicit InputError(const std::string& msg) : std::runtime_error(msg) {}
  InputError(const std::string& msg, std::string flag, std::string value)
      : std::runtime_error(msg), flag_(std::move(flag)), value_(std::move(value)) {}
  // The same message with other words before or after it (a caller's context), its data kept.
  InputError(const std::string& msg, const InputError& of)
      : std::runtime_error(msg), flag_(of.flag_), value_(of.value_), file_(of.file_), key_(of.key_), mentions_(of.mentions_) {}
  // `msg` about the first flag of `flags`, a command line the code built ("--prefill-tp 4 --prefill-ep 8", "--tp 2 x
  // --pp 1 ..."): that flag and the word after it are the data, each later flag and its word a mention.
  static InputError first_of(const std::string& msg, const std::string& flags) {
    std::vector<std::string> word;
    for (size_t at = 0; at < flags.size();) {
      const size_t space = std::min(flags.find(' ', at), flags.size());
      if (space > at) word.push_back(flags.substr(at, space - at));
      at = space + 1;
    }
    if (word.empty() || word[0].rfind("--", 0) != 0) return InputError(msg);
    auto value_after = [&](size_t i) {  // the word after flag i where it is its value ("x", "=" and the next flag are not)
      const bool is = i + 1 < word.size() && word[i + 1].rfind("--", 0) != 0 && word[i + 1] != "x" && word[i + 1] != "=";
      return is ? word[i + 1] : std::string();
    };
    InputError e(msg, word[0], value_after(0));
    for (size_t i = 1; i < word.size(); ++i)
      if (word[i].rfind("--", 0) == 0 && word[i].size() > 2) e.mentioning(word[i], value_after(i));
    return e;
  }
  // `msg` about a value of a file (a preset, model, study or scenario file) and its key.
  static InputError in_file(const std::string& msg, const std::string& file, const std::string& key) {
    InputError e(msg);
    e.file_ = file;
    e.key_ = key;
    return e;
  }
  const std::string& flag() const { return flag_; }
  const std::string& value() const { return value_; }
  const std::string& file() const { return file_; }
  const std::string& key() const { return key_; }
  // The other flags the message names, each with the value it gives ("" where it gives none), in the order it names them.
  const std::vector<std::pair<std::string, std::string>>& mentions() const { return mentions_; }
  // This error about `key` of `file` too ("" where the file is not known here: a chip preset's key, the chip named by
  // the value): `throw InputError(msg, "", chip).with_key("", "sm.smem_per_block")`.
  InputError& with_key(const std::string& file, const std::string& key) {
    file_ = file;
    key_ = key;
    return *this;
  }
  // This error naming `flag` (given `value`) too: `throw InputError(msg, "--rate", r).mentioning("--concurrency", c)`.
  InputError& mentioning(const std::string& flag, const std::string& value) {
    mentions_.emplace_back(flag, value);
    return *this;
  }

 protected:
  void set_config(const std::string& file, const std::string& key) {
    // "--set hbm.bandwidth" is the flag --set with its key; a file path is a file.
    if (file.rfind("--", 0) == 0) {
      const auto space = file.find(' ');
      flag_ = file.substr(0, space);
      key_ = !key.empty() ? key : space == std::string::npos ? std::string() : file.substr(space + 1);
    } else {
      file_ = file;
      key_ = key;
    }
  }

 private:
  std::string flag_, value_, file_, key_;
  std::vector<std::pair<std::string, std::string>> mentions_;
};

// `resolve()`, which resolves the value of `flag` (the name given to --chip, --system or --model): an unknown name is
// raised where it is looked up, which does not know the flag; a plain InputError without data from it is raised again
// with `flag` and `value` as its data, its message kept. Errors that carry data (a --set key's, a file's) pass as they are.
template <class F>
auto resolving(const std::string& flag, const std::string& value, F&& resolve) -> decltype(resolve()) {
  try {
    return resolve();
  } catch (const InputError& e) {
    if (typeid(e) != typeid(InputError) || !e.flag().empty() || !e.file().empty() || !e.key().empty()) throw;
    throw InputError(e.what(), flag, value);
  }
}

// Whether `s` ends in `sep` followed by `part` ("--set hbm.bandwidth" with ' ' and "hbm.bandwidth";
// "power.tdp" with '.' and "tdp").
inline bool ends_with_part(const std::string& s, char sep, const std::string& part) {
  return s.size() > part.size() && s[s.size() - part.size() - 1] == sep && s.compare(s.size() - part.size(), part.size(), part) == 0;
}

// A config value or key problem: "<file>: <key.path>: <problem>".
class ConfigError : public InputError {
 public:
  // A `--set key=value` is its own origin ("--set hbm.bandwidth"): the key is then not named twice.
  ConfigError(const std::string& file, const std::string& key, const std::string& problem)
      : InputError(file + ": " + (key.empty() || ends_with_part(file, ' ', key) ? std::string() : key + ": ") + problem) {
    set_config(file, key);
  }
};

// A required field the tree does not give: a schema that meets one may look for the misspelt key that left it missing
// (sim/run/registry.cpp) without reading the message.
class MissingFieldError : public ConfigError {
 public:
  using ConfigError::ConfigError;
};

// Closest candidate for "did you mean" hints ("" if none is close): the shortest dotted key whose last part is
// the word (a user's "tdp" means "power.tdp", not "name", which is as many edits away), else the shortest
// candidate that the word begins (a user's "h100" means "h100-sxm", not "h200", which is one edit away), else
// the nearest by edit distance if it is close: at most max(2, a third of the word's length) edits
// (close_enough, the rule `did you mean --flag` uses too), so "foo" names no chip ("b200" is four edits away),
// else the shortest candidate with a dotted word's last part (a GPU's "sm.clock" given to a TPU means "clock").
// Messages name it through nearest_clause (below), which prints nothing when it is empty.
std::string nearest(const std::string& word, const std::initializer_list<std::string>& candidates);
template <class Range>
std::string nearest_of(const std::string& word, const Range& candidates);
size_t edit_distance(const std::string& a, const std::string& b);
// Whether a name `distance` edits from `word` is close enough to be a typo of it: at most max(2, |word| / 3) edits.
inline bool close_enough(const std::string& word, size_t distance) { return distance <= std::max<size_t>(2, word.size() / 3); }

template <class Range>
std::string nearest_of(const std::string& word, const Range& candidates) {
  std::string best;
  for (const auto& c : candidates) {
    const std::string name(c);
    if (ends_with_part(name, '.', word) && (best.empty() || name.size() < best.size())) best = name;
  }
  if (!best.empty()) return best;
  for (const auto& c : candidates) {
    const std::string name(c);
    if (word.size() >= 2 && name.size() > word.size() && name.compare(0, word.size(), word) == 0 &&
        (best.empty() || name.size() < best.size()))
      best = name;
  }
  if (!best.empty()) return best;
  size_t best_d = static_cast<size_t>(-1);
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  if (close_enough(word, best_d)) return best;
  // A key under another section ("sm.clock" on a TPU, whose field is "clock"): the shortest with its last part.
  best.clear();
  const size_t dot = word.rfind('.');
  const std::string last = dot == std::string::npos ? std::string() : word.substr(dot + 1);
  for (const auto& c : candidates) {
    const std::string name(c);
    if (!last.empty() && (name == last || ends_with_part(name, '.', last)) && (best.empty() || name.size() < best.size()))
      best = name;
  }
  return best;
}

// How a message names the nearest candidate after a bad name: the text before and after the name.
struct HintForm {
  const char* open;
  const char* close;
};
inline constexpr HintForm kDidYouMean{" (did you mean ", "?)"};             // " (did you mean h100-sxm?)"
inline constexpr HintForm kDidYouMeanFlag{" (did you mean --", "?)"};       // " (did you mean --bytes?)"
inline constexpr HintForm kThenDidYouMean{"; did you mean ", "?"};          // after a message that ends in ')'
inline constexpr HintForm kNearestKey{" (nearest valid key: ", ")"};        // a preset key (STYLE: strict config)
inline constexpr HintForm kThenNearestKey{"; nearest valid key: ", ""};     // after a message that ends in ')'

// The clause `form` makes of `hint` ("" for no hint): for a hint of another rule (nearest_name, nearest_flag_hint).
inline std::string hint_clause(const std::string& hint, const HintForm& form = kDidYouMean) {
  return hint.empty() ? std::string() : form.open + hint + form.close;
}

// The clause naming the candidate nearest `word` by nearest_of's rule (" (did you mean h100-sxm?)"), or "" when
// none is close enough, so that no message assembles it by hand.
template <class Range>
std::string nearest_clause(const std::string& word, const Range& candidates, const HintForm& form = kDidYouMean) {
  return hint_clause(nearest_of(word, candidates), form);
}

// Joins names for messages: "a, b, c".
template <class Range>
std::string join(const Range& r, const std::string& sep = ", ") {
  std::string out;
  for (const auto& x : r) out += (out.empty() ? "" : sep) + std::string(x);
  return out;
}

}  // namespace xpu
