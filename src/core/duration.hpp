// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace fleetpower {

/// Parse "500ms", "5s", "2m", "1h", "1m30s" or a bare number of seconds ("2.5").
/// Returns nullopt for anything else, negative values, or more than 30 days.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view s);

/// "1.2s", "350ms", "2m05s".
std::string format_duration(std::chrono::milliseconds d);

}  // namespace fleetpower
