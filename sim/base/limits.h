// Resource limits checked before a simulation starts, and the bounds every numeric input is held to
// where it is parsed: a run that would need more transactions or memory than allowed is refused up
// front with the estimate and the limit, never left to hang or to die in std::bad_alloc.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "sim/base/error.h"

namespace xpu {

// A run refused because of its size: what it would need, the limit, and how to raise it.
class ResourceError : public InputError {
 public:
  explicit ResourceError(const std::string& msg) : InputError(msg) {}
  // `flag`: the limit's flag that raises it (--max-transactions, --max-memory), the one the message names first.
  ResourceError(const std::string& msg, const std::string& flag) : InputError(msg, flag, "") {}
};

struct ResourceLimits {
  double max_transactions = 2e8;      // about two to three minutes at the engine's 1-1.5 M transactions/s
  double max_memory_bytes = 8.0 * (1ull << 30);  // default: 3/4 of physical memory, at most 16 GiB
};

// The process-wide limits: defaults, then XPUSIM_MAX_TRANSACTIONS / XPUSIM_MAX_MEMORY, then the
// command line (take_limit_flags). Read by every simulation.
ResourceLimits& resource_limits();

// Removes --max-transactions N and --max-memory SIZE (also the --flag=value form) from argv, sets
// resource_limits() from them, and returns the new argc. InputError for a bad value.
int take_limit_flags(int argc, char** argv);
// Parses a limit value ("2e8", "16 GiB"); `what` names the flag or variable in errors.
double parse_transaction_limit(const std::string& what, const std::string& text);
double parse_memory_limit(const std::string& what, const std::string& text);

// Refuses a run whose estimate exceeds a limit: "<what> needs about N transactions (about T of
// simulation); the limit is L: raise it with --max-transactions".
void check_transactions(const std::string& what, double estimate);
void check_memory(const std::string& what, double bytes);
// A count for these messages, with a trailing space: "123 ", "1.5 million ", "2 billion ".
std::string count_text(double n);

// Bounds of user-facing sizes (kernel dimensions, model fields). kMaxDim keeps every per-dimension
// product of three inside 64 bits and every tile count inside the 32-bit shape fields of an Instr.
constexpr std::int64_t kMaxDim = std::int64_t{1} << 24;          // 16,777,216
// Each operand of an op gets a 1 TiB-aligned address region (kernels/common/lowering.h).
constexpr double kMaxOperandBytes = 1099511627776.0;             // 1 TiB
// A serving run draws and holds every request before it starts (lengths, arrival): ten million is far beyond any
// benchmark's run (MLPerf's Llama-2 dataset: 24,576 samples) and a few GiB of bookkeeping; --requests 99999999999
// had grown to "out of memory" after a minute. A closed loop's default is 4 requests per user.
constexpr std::int64_t kMaxRequests = 10000000;
// Input files (presets, config.json, measurement CSVs) are read whole; larger ones are refused.
constexpr std::size_t kMaxInputFileBytes = 64u << 20;            // 64 MiB

// Reads a regular text file of at most `max_bytes` (a FIFO, device or folder is refused before it is
// opened; a file with NUL bytes after it is read). `what` names the input in errors: "<path>: <what>: <problem>".
std::string read_input_file(const std::string& path, const std::string& what,
                            std::size_t max_bytes = kMaxInputFileBytes);

}  // namespace xpu
