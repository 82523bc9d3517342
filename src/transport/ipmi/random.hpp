// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>

namespace fleetpower::ipmi {

/// Fills [p, p + n) from the kernel's CSPRNG (getrandom(2)), drawn from a per-thread pool so
/// that a session's random numbers cost a fraction of a system call.  False only when the
/// kernel has no getrandom (Linux before 3.17); p is then left unchanged.
bool secure_random(void* p, std::size_t n);

/// How many times libfreeipmi asked for random bytes through ipmi_get_random() (random.cpp
/// replaces it): lets a test see that the replacement is the one libfreeipmi calls.
unsigned long long ipmi_get_random_calls();

}  // namespace fleetpower::ipmi
