// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/duration.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cstdlib>

namespace fleetpower {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view s) {
  if (s.empty() || s.size() > 32) return std::nullopt;
  constexpr double kMaxMs = 30.0 * 24 * 3600 * 1000;
  double total_ms = 0;
  std::size_t i = 0;
  bool any = false;
  while (i < s.size()) {
    std::size_t start = i;
    bool dot = false;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || (s[i] == '.' && !dot))) {
      if (s[i] == '.') dot = true;
      ++i;
    }
    if (i == start) return std::nullopt;
    std::string num(s.substr(start, i - start));
    if (num == ".") return std::nullopt;
    double v = std::strtod(num.c_str(), nullptr);
    std::size_t ustart = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    std::string_view unit = s.substr(ustart, i - ustart);
    double mult;
    if (unit.empty()) {
      if (any || i != s.size()) return std::nullopt;  // bare number only on its own
      mult = 1000;
    } else if (unit == "ms") {
      mult = 1;
    } else if (unit == "s") {
      mult = 1000;
    } else if (unit == "m" || unit == "min") {
      mult = 60'000;
    } else if (unit == "h") {
      mult = 3'600'000;
    } else {
      return std::nullopt;
    }
    total_ms += v * mult;
    if (total_ms > kMaxMs) return std::nullopt;
    any = true;
  }
  return std::chrono::milliseconds(static_cast<long long>(total_ms + 0.5));
}

std::string format_duration(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms < 1000) return fmt::format("{}ms", ms);
  if (ms < 60'000) return fmt::format("{:.1f}s", static_cast<double>(ms) / 1000.0);
  auto s = ms / 1000;
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

}  // namespace fleetpower
