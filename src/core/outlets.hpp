// SPDX-License-Identifier: GPL-3.0-or-later
// Outlets as a power path (`--via pdu`): a node is switched through the PDU outlet(s) that
// feed it, one per power supply on dual-corded servers.  Used when a BMC is dead.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/backend.hpp"
#include "core/credentials.hpp"
#include "core/inventory.hpp"

namespace fleetpower {

/// One entry of a node's `outlets` key: "pdu-a1:5" (PDU inventory host, outlet id).
struct OutletRef {
  std::string pdu;
  std::string outlet;
};

/// Parses "pdu-a1:5,pdu-b1:5" (the inventory joins a YAML list with ',').  At most 8 outlets;
/// the PDU part is a host name, the outlet part letters, digits, '.', '_' or '-' (the device
/// profile checks it strictly before anything is sent).
bool parse_outlets(const std::string& spec, std::vector<OutletRef>* out, std::string* err);

/// The feeds of one node, resolved against the inventory.
struct OutletPath {
  struct Feed {
    std::string label;  ///< A, B, ...
    std::string name;   ///< "pdu-a1:5"
    std::unique_ptr<Target> target;  ///< the PDU's target with `outlet` set
    const Credential* credential = nullptr;
  };
  std::vector<Feed> feeds;
  Millis cycle_delay{std::chrono::seconds(5)};  ///< how long every outlet stays off in a cycle
};

/// node name -> its outlets.
using OutletTable = std::map<std::string, OutletPath>;

/// Builds the table for `nodes` (which must each have `outlets`).  PDU credentials are
/// resolved here (blocking: before the loop).  false with *err on the first problem.
bool build_outlet_table(const Inventory& inv, const std::vector<const Target*>& nodes, CredentialStore& creds,
                        OutletTable* out, std::string* err);

/// The backend registered as protocol "pdu" for `--via pdu`: status reads every outlet and
/// combines ("on (2/2 outlets)", "partial: A on, B off"); on/off switch every outlet; cycle
/// and reset switch every outlet off, wait cycle_delay, then switch them all on.  Outlets
/// are switched through the backend of their PDU's protocol (ssh), which serialises the
/// operations on one PDU.
std::unique_ptr<Backend> make_outlet_backend(asio::any_io_executor ex, const BackendRegistry& registry,
                                             std::shared_ptr<const OutletTable> table);

}  // namespace fleetpower
