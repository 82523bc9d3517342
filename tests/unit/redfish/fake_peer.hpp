// SPDX-License-Identifier: GPL-3.0-or-later
// A fake Redfish BMC behind the HttpEndpoint seam: serves a real short-form mockup tree in
// process, with a power state, sessions, ETags and scripted faults, so the protocol engine's
// flows (login, re-auth, 412 dance, task monitors, cancellation) run without sockets.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "mockups.hpp"
#include "transport/redfish/http.hpp"

namespace fptest {

namespace rf = fleetpower::redfish;

struct Seen {
  rf::Method method;
  std::string target, body, token, authorization, if_match;
};

class FakeBmc final : public rf::HttpEndpoint {
 public:
  FakeBmc(boost::asio::io_context& io, std::string tree) : io_(io), tree_(std::move(tree)) {}

  // Knobs.
  std::string user = "admin", password = "s3cret-pw";
  std::string power;  ///< overrides the tree's PowerState when set
  bool sessions_supported = true;
  int expire_tokens = 0;            ///< answer 401 to the next N token-authenticated requests
  int busy = 0;                     ///< answer 503 (Retry-After: 0) to the next N requests
  bool reset_202 = false;           ///< Reset answers 202 + task monitor
  int task_polls = 2;               ///< 202s before the task completes
  std::string etag = "\"e1\"";      ///< current strong ETag of the system
  std::string etag_mode = "exact";  ///< exact | strong-only | never (412 always with If-Match)
  std::string hang_on;              ///< never answer requests for this path (until cancelled)
  std::map<std::string, std::string> override_get;  ///< path -> raw body
  std::map<std::string, int> status_for;            ///< "POST /path" -> status to answer
  std::string status_body;                          ///< body with status_for answers
  bool off_delay_polls = false;                     ///< ForceOff leaves PoweringOff for one GET
  bool ignore_patch = false;  ///< PATCH answers 204 but changes nothing (a lying BMC)

  // Observations.
  std::vector<Seen> log;
  std::vector<std::string> resets;
  int sessions_created = 0, sessions_deleted = 0;
  std::map<std::string, boost::json::object> patches;  ///< path -> merged PATCH bodies

  void request(rf::HttpRequest req, fleetpower::Clock::time_point,
               boost::asio::cancellation_slot slot, rf::HttpHandler h) override {
    Seen s{req.method, req.target, req.body, {}, {}, {}};
    for (auto& [k, v] : req.headers) {
      if (k == "X-Auth-Token") s.token = v;
      if (k == "Authorization") s.authorization = v;
      if (k == "If-Match") s.if_match = v;
    }
    log.push_back(s);
    if (!hang_on.empty() && req.target == hang_on) {
      auto held = std::make_shared<rf::HttpHandler>(std::move(h));
      if (slot.is_connected())
        slot.assign([this, held](boost::asio::cancellation_type) {
          rf::HttpResult r;
          r.error = fleetpower::ErrorKind::Interrupted;
          r.cancelled = true;
          r.step = rf::WireStep::Receive;
          boost::asio::post(io_, [held, r] { (*held)(r); });
        });
      return;
    }
    rf::HttpResult r;
    r.step = rf::WireStep::Receive;
    r.response = handle(req, s);
    boost::asio::post(io_, [h = std::move(h), r = std::move(r)] { h(r); });
  }
  std::string peer_fingerprint() const override { return "AA:BB"; }

  int count(rf::Method m, const std::string& path_part) const {
    int n = 0;
    for (auto& s : log)
      if (s.method == m && s.target.find(path_part) != std::string::npos) ++n;
    return n;
  }

 private:
  rf::HttpResponse json_resp(unsigned st, const boost::json::value& v) {
    rf::HttpResponse r;
    r.status = st;
    r.body = boost::json::serialize(v);
    return r;
  }
  rf::HttpResponse status_only(unsigned st, std::string body = {}) {
    rf::HttpResponse r;
    r.status = st;
    r.body = std::move(body);
    return r;
  }

  rf::HttpResponse handle(const rf::HttpRequest& req, const Seen& s) {
    if (busy > 0) {
      --busy;
      auto r = status_only(503, R"({"error":{"message":"busy"}})");
      r.retry_after = "0";
      return r;
    }
    const std::string key = std::string(rf::method_name(req.method)) + " " + req.target;
    if (auto it = status_for.find(key); it != status_for.end())
      return status_only(it->second, status_body);
    const bool root = req.target == "/redfish/v1/" || req.target == "/redfish/v1";
    if (root && req.method == rf::Method::Get) return serve(req.target);
    // Login.
    if (req.method == rf::Method::Post && req.target.find("/Sessions") != std::string::npos) {
      if (!sessions_supported) return status_only(405);
      auto v = boost::json::parse(req.body);
      if (v.at("UserName").as_string() != user || v.at("Password").as_string() != password)
        return status_only(
            401,
            R"({"error":{"@Message.ExtendedInfo":[{"Message":"Invalid username or password"}]}})");
      ++sessions_created;
      std::string tok = "tok" + std::to_string(sessions_created);
      tokens_.push_back(tok);
      rf::HttpResponse r =
          status_only(201, R"({"@odata.id":"/redfish/v1/SessionService/Sessions/)" + tok + "\"}");
      r.auth_token = tok;
      r.location = "/redfish/v1/SessionService/Sessions/" + tok;
      return r;
    }
    // Authentication.
    bool authed = false;
    if (!s.token.empty()) {
      if (expire_tokens > 0) {
        --expire_tokens;
        return status_only(401);
      }
      authed = std::find(tokens_.begin(), tokens_.end(), s.token) != tokens_.end();
    } else if (!s.authorization.empty()) {
      authed = s.authorization == "Basic " + basic();
    }
    if (!authed) return status_only(401);
    if (req.method == rf::Method::Delete && req.target.find("/Sessions/") != std::string::npos) {
      auto tok = req.target.substr(req.target.rfind('/') + 1);
      auto it = std::find(tokens_.begin(), tokens_.end(), tok);
      if (it == tokens_.end()) return status_only(404);
      tokens_.erase(it);
      ++sessions_deleted;
      return status_only(204);
    }
    if (req.method == rf::Method::Get) {
      if (req.target.rfind("/taskmon/", 0) == 0) {
        if (task_left_ > 0) {
          --task_left_;
          auto r = status_only(202, R"({"TaskState":"Running"})");
          r.retry_after = "0";
          return r;
        }
        return json_resp(200, boost::json::parse(R"({"TaskState":"Completed","TaskStatus":"OK"})"));
      }
      return serve(req.target);
    }
    if (req.method == rf::Method::Post &&
        req.target.find("ComputerSystem.Reset") != std::string::npos) {
      auto v = boost::json::parse(req.body);
      std::string type(v.at("ResetType").as_string());
      resets.push_back(type);
      if (type == "ForceOff" || type == "GracefulShutdown") {
        power = off_delay_polls ? "PoweringOff" : "Off";
      } else if (type == "On" || type == "ForceOn") {
        power = "On";
      }
      if (reset_202) {
        task_left_ = task_polls;
        auto r = status_only(202);
        r.location = "https://bmc.example/taskmon/1";
        r.retry_after = "0";
        return r;
      }
      // iLO style: success wrapped in an "error" object.
      return status_only(
          200, R"({"error":{"code":"iLO.2.15.Success","message":"See @Message.ExtendedInfo"}})");
    }
    if (req.method == rf::Method::Patch) {
      if (!s.if_match.empty()) {
        auto strip = [](const std::string& e) { return e.rfind("W/", 0) == 0 ? e.substr(2) : e; };
        bool match = etag_mode == "exact" ? s.if_match == etag
                     : etag_mode == "strong-only"
                         ? s.if_match.rfind("W/", 0) != 0 && strip(s.if_match) == strip(etag)
                         : false;
        if (!match) return status_only(412, R"({"error":{"message":"ETag mismatch"}})");
      }
      auto v = boost::json::parse(req.body).as_object();
      if (ignore_patch) return status_only(204);
      auto& acc = patches[req.target];
      for (auto& kv : v) {
        if (kv.value().is_object() && acc.contains(kv.key()) && acc[kv.key()].is_object())
          for (auto& inner : kv.value().as_object())
            acc[kv.key()].as_object()[inner.key()] = inner.value();
        else
          acc[kv.key()] = kv.value();
      }
      etag = "\"e" + std::to_string(patches.size() + 1) + "\"";
      return status_only(204);
    }
    return status_only(405);
  }

  rf::HttpResponse serve(const std::string& path) {
    std::optional<std::string> text;
    if (auto it = override_get.find(path); it != override_get.end())
      text = it->second;
    else
      text = tree_get(tree_, path);
    if (!text) return status_only(404);
    boost::system::error_code ec;
    auto v = boost::json::parse(*text, ec);
    if (ec || !v.is_object()) {
      rf::HttpResponse r = status_only(200, *text);
      return r;
    }
    auto& o = v.as_object();
    if (o.contains("PowerState")) {
      if (!power.empty()) o["PowerState"] = power;
      if (power == "PoweringOff") power = "Off";  // finishes after one read
    }
    if (auto it = patches.find(path); it != patches.end())
      for (auto& kv : it->second) {
        if (kv.value().is_object() && o.contains(kv.key()) && o[kv.key()].is_object())
          for (auto& inner : kv.value().as_object())
            o[kv.key()].as_object()[inner.key()] = inner.value();
        else
          o[kv.key()] = kv.value();
      }
    auto r = json_resp(200, v);
    if (o.contains("PowerState")) r.etag = etag;
    return r;
  }

  std::string basic() const {
    static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string in = user + ":" + password, out;
    int val = 0, bits = -6;
    for (unsigned char c : in) {
      val = (val << 8) + c;
      bits += 8;
      while (bits >= 0) {
        out.push_back(t[(val >> bits) & 0x3F]);
        bits -= 6;
      }
    }
    if (bits > -6) out.push_back(t[((val << 8) >> (bits + 8)) & 0x3F]);
    while (out.size() % 4) out.push_back('=');
    return out;
  }

  boost::asio::io_context& io_;
  std::string tree_;
  std::vector<std::string> tokens_;
  int task_left_ = 0;
};

}  // namespace fptest
