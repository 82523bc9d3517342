/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The shared-object ABI of fleetpower code plugins (plain C; see plugins/README.md).
 *
 * A code plugin is a shared object that exports
 *
 *     const struct fleetpower_plugin_v1 *fleetpower_plugin_entry(void);
 *
 * fleetpower reads `api_version` (always the first member, in every API version) before
 * anything else and refuses the file when it differs from FLEETPOWER_PLUGIN_API_VERSION.
 */
#ifndef FLEETPOWER_PLUGIN_ABI_H
#define FLEETPOWER_PLUGIN_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FLEETPOWER_PLUGIN_API_VERSION 1
#define FLEETPOWER_PLUGIN_ENTRY "fleetpower_plugin_entry"

struct fleetpower_plugin_v1 {
  /* Must be FLEETPOWER_PLUGIN_API_VERSION; first member in every version. */
  uint32_t api_version;
  /* sizeof(struct fleetpower_plugin_v1) as the plugin was compiled. */
  uint32_t struct_size;
  /* The descriptor and profile as YAML text in the profile schema (name, version,
   * transports, match, priority, redfish, ipmi).  Required.  api_version inside the text,
   * when given, must agree with the member above. */
  const char *profile_yaml;
  /* Optional code hooks (NULL: none).  create_hooks returns a new
   * `fleetpower::plugin::Hooks*` (C++; the plugin must be built with the same compiler and
   * fleetpower's src/plugin/plugin.hpp); destroy_hooks deletes it. */
  void *(*create_hooks)(void);
  void (*destroy_hooks)(void *hooks);
};

typedef const struct fleetpower_plugin_v1 *(*fleetpower_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* FLEETPOWER_PLUGIN_ABI_H */
