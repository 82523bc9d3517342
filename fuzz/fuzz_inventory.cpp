// SPDX-License-Identifier: GPL-3.0-or-later
// The YAML inventory loader (load_inventory_text, what load_inventory() runs on the file's
// text), then selection resolution over whatever it accepted.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/inventory.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 16384) return 0;
  std::string text(reinterpret_cast<const char*>(data), size);
  fleetpower::Inventory inv;
  std::vector<fleetpower::Diagnostic> diags;
  const bool ok = fleetpower::load_inventory_text(text, "fuzz.yaml", &inv, &diags);
  for (auto& d : diags) (void)d.str();
  if (!ok) {
    bool any_error = false;
    for (auto& d : diags) any_error |= !d.warning;
    if (!any_error) std::abort();  // a refusal always carries an error
    return 0;
  }
  if (inv.targets.size() != inv.by_name.size()) std::abort();
  fleetpower::Selection all;
  all.all = true;
  std::vector<const fleetpower::Target*> sel;
  std::string err;
  fleetpower::resolve_selection(inv, all, &sel, &err);
  for (auto& [g, members] : inv.groups) {
    fleetpower::Selection s;
    s.include.push_back("@" + g);
    sel.clear();
    fleetpower::resolve_selection(inv, s, &sel, &err);
    break;
  }
  return 0;
}
