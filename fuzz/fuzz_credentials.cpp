// SPDX-License-Identifier: GPL-3.0-or-later
// The credentials file loader (CredentialStore::load_text, what load() runs on the file's text
// once its owner and mode are checked).  Entries are not resolved: that would run
// password_command and read files the input names.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/credentials.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 16384) return 0;
  std::string text(reinterpret_cast<const char*>(data), size);
  fleetpower::CredentialStore store;
  std::vector<fleetpower::Diagnostic> diags;
  const bool ok = store.load_text(text, "fuzz-credentials.yaml", &diags);
  for (auto& d : diags) (void)d.str();
  for (auto& n : store.names())
    if (!store.has(n)) std::abort();
  (void)ok;
  return 0;
}
