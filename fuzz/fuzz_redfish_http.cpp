// SPDX-License-Identifier: GPL-3.0-or-later
// An HTTP/1.1 response off the wire as the Redfish client reads it (src/transport/redfish/
// pool.cpp receive()/complete(): Beast response_parser<string_body> with the client's body and
// header limits, then the headers it takes), followed by what the engine does with the result:
// Retry-After, error bodies, the JSON body.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "transport/redfish/model.hpp"
#include "transport/redfish/pool.hpp"

namespace rf = fleetpower::redfish;
namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  rf::WireLimits limits;
  limits.max_body = 16 * 1024;  // the real limits are larger; small ones hit the limit paths
  limits.max_header = 2 * 1024;
  std::optional<http::response_parser<http::string_body>> parser;
  parser.emplace();
  parser->body_limit(limits.max_body);
  parser->header_limit(static_cast<std::uint32_t>(limits.max_header));
  // Feed in two pieces (as reads would), split at the first byte's choice.
  std::size_t split = size ? data[0] % (size + 1) : 0;
  boost::system::error_code ec;
  for (auto [p, n] : {std::pair{data, split}, std::pair{data + split, size - split}}) {
    boost::asio::const_buffer buf(p, n);
    while (buf.size() && !parser->is_done()) {
      std::size_t k = parser->put(buf, ec);
      if (ec == http::error::need_more) {
        ec = {};
        break;
      }
      if (ec) break;
      buf += k;
    }
    if (ec) break;
  }
  if (!ec && !parser->is_done()) parser->put_eof(ec);
  if (ec || !parser->is_done()) return 0;
  auto& msg = parser->get();
  rf::HttpResponse res;
  res.status = msg.result_int();
  res.body = std::move(msg.body());
  auto hdr = [&msg](std::string_view name) {
    auto it = msg.find(name);
    return it == msg.end() ? std::string() : std::string(it->value());
  };
  res.etag = hdr("ETag");
  res.location = hdr("Location");
  res.retry_after = hdr("Retry-After");
  res.auth_token = hdr("X-Auth-Token");
  res.content_type = hdr("Content-Type");
  if (res.body.size() > limits.max_body) std::abort();  // the limit held
  (void)msg.keep_alive();
  if (auto ra = rf::parse_retry_after(res.retry_after))
    if (*ra < 0) std::abort();
  rf::ParseLimits lim;
  (void)rf::error_message(res.body, lim);
  boost::json::value v;
  std::string err;
  if (rf::parse_json(res.body, lim, v, &err)) {
    rf::TaskInfo t;
    (void)rf::parse_task(v, t);
  }
  (void)rf::normalize_fingerprint(res.etag);
  return 0;
}
