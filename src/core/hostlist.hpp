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
  std::string message;  ///< "range end 1 is below start 3"
  std::size_t column = 0;  ///< 1-based column in the expression
};

/// Expand a pdsh/Slurm/ClusterShell hostlist ("n[01-10,12]-ib,r[1-2]n[1-4]", steps "[1-9/2]")
/// into names, appended to *out in expression order (duplicates kept out, first wins).
/// Returns false and fills *err on malformed input or more than `max_names` names.
bool expand(std::string_view expr, std::vector<std::string>* out, Error* err,
            std::size_t max_names = kMaxNames);

/// Fold names into the shortest hostlist ClusterShell's `nodeset -f` would print for
/// one-dimensional sets: sorted, numeric runs merged, padding kept, node1 != node01.
std::string fold(const std::vector<std::string>& names);

/// Total order of `nodeset -e`: names are grouped by their pattern (the name with every run of
/// decimal digits replaced by a placeholder, patterns compared bytewise), then compared digit
/// run by digit run, shorter runs first and equal lengths in numeric order ("n9" < "n01" <
/// "n10"). Exact for names with at most one digit run; a consistent order otherwise.
bool name_less(std::string_view a, std::string_view b);

/// Sort names in place in name_less order and drop duplicates: the order `nodeset -e` prints.
void sort_unique(std::vector<std::string>* names);

}  // namespace fleetpower::hostlist
