/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A tiny code plugin for the loader tests.  TEST_API_VERSION picks the API version it claims
 * (the build makes one with the right version and one with a wrong one). */
#include "plugin/abi.h"

#ifndef TEST_API_VERSION
#define TEST_API_VERSION FLEETPOWER_PLUGIN_API_VERSION
#endif
#ifndef TEST_PLUGIN_NAME
#define TEST_PLUGIN_NAME "test-so"
#endif

static const struct fleetpower_plugin_v1 descriptor = {
    TEST_API_VERSION,
    sizeof(struct fleetpower_plugin_v1),
    "name: " TEST_PLUGIN_NAME "\n"
    "version: \"0.3\"\n"
    "api_version: 1\n"
    "description: loader test plugin\n"
    "transports: [redfish]\n"
    "priority: 5\n"
    "match:\n"
    "  - redfish_vendor: \"Test*\"\n"
    "redfish:\n"
    "  reset:\n"
    "    off: [GracefulShutdown, ForceOff]\n",
    0,
    0,
};

const struct fleetpower_plugin_v1 *fleetpower_plugin_entry(void) { return &descriptor; }
