// SPDX-License-Identifier: GPL-3.0-or-later
// The HTTP seam between the Redfish protocol engine and the wire.  The real implementation
// (Endpoint, in pool.hpp) speaks HTTP/1.1 over TLS with Beast; tests plug in a fake peer.
#pragma once

#include <boost/asio/cancellation_signal.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/types.hpp"

namespace fleetpower::redfish {

enum class Method : std::uint8_t { Get, Post, Patch, Delete };
std::string_view method_name(Method m);

struct HttpRequest {
  Method method = Method::Get;
  std::string target;  ///< origin-form path
  std::string body;    ///< JSON, sent with Content-Type: application/json when non-empty
  /// Extra headers (X-Auth-Token, Authorization, If-Match).  Never logged.
  std::vector<std::pair<std::string, std::string>> headers;
  /// May be sent again when a connection dies before any answer (GET and DELETE always are;
  /// a session login may be; a Reset POST or a PATCH never is).
  bool repeatable = false;
};

struct HttpResponse {
  unsigned status = 0;
  std::string body;
  std::string etag, location, retry_after, auth_token, content_type;
};

/// The wire step an exchange was at: timeouts and failures name it.
enum class WireStep : std::uint8_t { Queue, Resolve, Connect, Handshake, Send, Receive };
std::string_view wire_step_text(WireStep s);

struct HttpResult {
  ErrorKind error = ErrorKind::None;  ///< None: `response` is valid (any HTTP status)
  std::string reason;
  WireStep step = WireStep::Queue;
  bool cancelled = false;  ///< aborted through the cancellation slot
  HttpResponse response;
};

using HttpHandler = std::function<void(HttpResult)>;

/// One BMC endpoint.  request() never calls `h` inline; `h` is called exactly once.
class HttpEndpoint {
 public:
  virtual ~HttpEndpoint() = default;
  virtual void request(HttpRequest req, Clock::time_point deadline,
                       boost::asio::cancellation_slot slot, HttpHandler h) = 0;
  /// SHA-256 of the last certificate the peer presented ("AB:CD:..."), empty for plain HTTP.
  virtual std::string peer_fingerprint() const = 0;
  /// Closes idle and busy connections; anything in flight completes as cancelled.
  virtual void close() {}
  /// True when other BMCs are waiting for a connection (the global cap is reached): a session
  /// is then closed right after its operation instead of lingering for a next one.
  virtual bool crowded() const { return false; }
};

}  // namespace fleetpower::redfish
