// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

namespace fleetpower::cli {

/// The whole command line: parse, dispatch, return the process exit code.
int run(int argc, char** argv);

}  // namespace fleetpower::cli
