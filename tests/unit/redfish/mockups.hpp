// SPDX-License-Identifier: GPL-3.0-or-later
// Test helpers: read the shared Redfish mockups in place (never copied into the project).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace fptest {

inline std::string mockup_root() {
  if (const char* m = std::getenv("FLEETPOWER_MOCKUPS"); m && *m) return m;
  return std::string(FP_SOURCE_DIR) + "/../shared/redfish-mockups";
}

inline bool have_mockups() { return std::filesystem::is_directory(mockup_root()); }

inline std::optional<std::string> read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

/// A file under the mockups folder ("csm-DL325/index.json").
inline std::optional<std::string> mockup(const std::string& rel) {
  return read_text(mockup_root() + "/" + rel);
}

/// Resolve a Redfish path in a short-form tree ("<dir>/<path below /redfish/v1>/index.json").
inline std::optional<std::string> tree_get(const std::string& tree, std::string path) {
  const std::string pre = "/redfish/v1";
  if (path.rfind(pre, 0) != 0) return std::nullopt;
  path = path.substr(pre.size());
  while (!path.empty() && path.back() == '/') path.pop_back();
  return read_text(mockup_root() + "/" + tree + path + "/index.json");
}

}  // namespace fptest

#define FP_REQUIRE_MOCKUPS()                                                 \
  do {                                                                       \
    if (!fptest::have_mockups()) {                                           \
      WARN("../shared/redfish-mockups not present: skipping mockup checks"); \
      return;                                                                \
    }                                                                        \
  } while (0)
