// SPDX-License-Identifier: GPL-3.0-or-later
#include "cli/cli.hpp"
#include "core/loader_pages.hpp"

int main(int argc, char** argv) {
  // Every object is relocated and bound by now: the loader's tables are not read again.
  fleetpower::release_relocation_pages();
  return fleetpower::cli::run(argc, argv);
}
