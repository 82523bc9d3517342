// SPDX-License-Identifier: GPL-3.0-or-later
// Hostlist expansion and folding.  Besides "no crash", checks the round trip: folding the
// expansion and expanding that again gives the same set of names.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/hostlist.hpp"

namespace hl = fleetpower::hostlist;

namespace {
// Names fold() can spell back as a hostlist (no separators or brackets inside a name).
bool plain(const std::string& n) {
  if (n.empty()) return false;
  for (unsigned char c : n)
    if (!(std::isalnum(c) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}
std::size_t digit_runs(const std::string& n) {
  std::size_t runs = 0;
  bool in = false;
  for (unsigned char c : n) {
    const bool d = c >= '0' && c <= '9';
    if (d && !in) ++runs;
    in = d;
  }
  return runs;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return 0;
  std::string_view expr(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> names;
  hl::Error err;
  const bool ok = hl::expand(expr, &names, &err, 20000);
  if (!ok) {
    if (err.message.empty()) std::abort();  // every failure says why
    if (err.column > size + 1) std::abort();
    return 0;
  }
  if (names.size() > 20000) std::abort();
  std::string folded = hl::fold(names);
  std::vector<std::string> sorted = names;
  hl::sort_unique(&sorted);
  // Unique, and nothing lost.
  std::vector<std::string> bytewise = sorted;
  std::sort(bytewise.begin(), bytewise.end());
  if (std::adjacent_find(bytewise.begin(), bytewise.end()) != bytewise.end()) std::abort();
  for (const std::string& n : names)
    if (!n.empty() && !std::binary_search(bytewise.begin(), bytewise.end(), n)) std::abort();
  // Ordered by name_less where that is nodeset's order: names with at most one digit run.
  // (With several runs, sort_unique follows nodeset's folded vectors, e.g. 061a4 before 1a9,
  // while name_less compares run by run: hostlist.hpp.)
  if (std::all_of(sorted.begin(), sorted.end(), [](const std::string& n) { return digit_runs(n) <= 1; }))
    for (std::size_t i = 1; i < sorted.size(); ++i)
      if (!hl::name_less(sorted[i - 1], sorted[i])) std::abort();  // strictly ordered
  if (!std::all_of(names.begin(), names.end(), plain) || names.empty()) return 0;
  std::vector<std::string> again;
  hl::Error err2;
  if (!hl::expand(folded, &again, &err2, 40000)) std::abort();  // fold() output must parse
  hl::sort_unique(&again);
  if (again != sorted) std::abort();  // and name the same hosts
  return 0;
}
