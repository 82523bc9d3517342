// SPDX-License-Identifier: GPL-3.0-or-later
#include "cli/cli.hpp"

int main(int argc, char** argv) { return fleetpower::cli::run(argc, argv); }
