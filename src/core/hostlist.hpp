// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace fleetpower::hostlist {

/// Hard cap on names one expression may expand to.
inline constexpr std::size_t kMaxNames = 1'000'000;

struct Error {
  std::string message;     ///< "range end 1 is below start 3"
  std::size_t column = 0;  ///< 1-based column in the expression
};

/// Expand a pdsh/Slurm/ClusterShell hostlist ("n[01-10,12]-ib,r[1-2]n[1-4]", steps "[1-9/2]")
/// into names, appended to *out in expression order (duplicates kept out, first wins).
/// Returns false and fills *err on malformed input or more than `max_names` names.
bool expand(std::string_view expr, std::vector<std::string>* out, Error* err,
            std::size_t max_names = kMaxNames);

/// Fold names into the hostlist ClusterShell's `nodeset -f` prints (checked against 1.9.1):
/// names are grouped by pattern (the name with each run of ASCII digits as a placeholder),
/// patterns sorted bytewise; within a pattern numbers are sorted numerically, runs merged,
/// padding kept, node1 != node01 ("n[1-2,01-02,10]"), digitless names printed as they are.
/// Names with several digit runs ("r1n01") fold like nodeset's RangeSetND: one bracket group
/// when only one run varies, otherwise nodeset's pairwise merge ("r[1-2]n[1-2],r3n[1-3]");
/// past a work budget (ten million vector comparisons, only for huge irregular
/// multi-dimensional sets) it falls back to folding the last digit run per distinct head.
/// Duplicates and empty names are ignored.
std::string fold(const std::vector<std::string>& names);

/// Strict weak order on names: grouped by pattern (compared bytewise, with '%' doubled and
/// each digit run as "%s", like nodeset), then digit run by digit run, shorter runs first and
/// equal lengths in numeric order ("n9" < "n01" < "n10"). For names with at most one digit run
/// this is exactly the order of `nodeset -e`.
bool name_less(std::string_view a, std::string_view b);

/// Sort names into the order `nodeset -e` prints them (for multi-digit-run names too, which
/// follow the folded vectors) and drop duplicates and empty names.
void sort_unique(std::vector<std::string>* names);

}  // namespace fleetpower::hostlist
