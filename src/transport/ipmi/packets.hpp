// SPDX-License-Identifier: GPL-3.0-or-later
// RMCP+ packet assembly and parsing on top of libfreeipmi's fiid templates and crypto helpers.
// Pure functions: no sockets, no clocks.  Untrusted input never throws; failures return false
// with a reason.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <freeipmi/fiid/fiid.h>

namespace fleetpower::ipmi {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

/// Move-only owner of a fiid object.  Objects come from a per-thread pool per template and go
/// back to it cleared (fiid_obj_clear zeroes the data): libfreeipmi builds every new object's
/// field table from the template by name, which cost more CPU than the packet work itself.
/// `tmpl` must be one of libfreeipmi's static templates (the pool keys on its address).
class FiidObj {
 public:
  FiidObj() = default;
  explicit FiidObj(fiid_template_t tmpl);
  FiidObj(FiidObj&& o) noexcept : obj_(o.obj_), tmpl_(o.tmpl_) { o.obj_ = nullptr; }
  FiidObj& operator=(FiidObj&& o) noexcept;
  FiidObj(const FiidObj&) = delete;
  FiidObj& operator=(const FiidObj&) = delete;
  ~FiidObj();
  fiid_obj_t get() const { return obj_; }
  explicit operator bool() const { return obj_ != nullptr; }
  /// Field value; false when absent or on error.
  bool u64(const char* field, std::uint64_t& v) const;
  /// Field bytes; returns length or -1.
  int data(const char* field, void* buf, unsigned len) const;
  bool clear();

 private:
  void release() noexcept;
  fiid_obj_t obj_ = nullptr;
  const void* tmpl_ = nullptr;
};

/// Cipher suite -> algorithms; only suites 3 and 17 are offered by fleetpower.
struct Algorithms {
  std::uint8_t authentication = 0;
  std::uint8_t integrity = 0;
  std::uint8_t confidentiality = 0;
};
bool cipher_suite_algorithms(int suite, Algorithms& out);

/// Session keys after RAKP 2.
struct SessionKeys {
  Algorithms alg;
  std::array<std::uint8_t, 64> sik{};
  unsigned sik_len = 0;
  std::array<std::uint8_t, 64> k1{};  ///< integrity key
  unsigned k1_len = 0;
  std::array<std::uint8_t, 64> k2{};  ///< confidentiality key (AES: first 16 bytes)
  unsigned k2_len = 0;
  void wipe();
};

/// Credentials as the wire needs them (validated lengths).
struct Creds {
  std::string username;
  std::string password;
  std::string kg;  ///< raw K_g bytes; empty: none (the password is used)
  Creds() = default;
  Creds(const Creds&) = default;
  Creds& operator=(const Creds&) = default;
  ~Creds();  // wipes password and K_g
};

/// Parameters of the RAKP exchange shared by several messages.
struct Handshake {
  std::uint32_t console_sid = 0;  ///< our (remote console) session id
  std::uint32_t bmc_sid = 0;      ///< managed system session id (from Open Session Response)
  std::uint8_t privilege = 3;     ///< requested privilege level (explicit, never "highest")
  std::uint8_t name_only_lookup = 1;
  std::array<std::uint8_t, 16> console_random{};
  std::array<std::uint8_t, 16> bmc_random{};
  std::array<std::uint8_t, 16> bmc_guid{};
};

// ---- what an incoming datagram is, before any session looks at it -------------------------
struct Peek {
  bool rmcpplus = false;  ///< IPMI 2.0 (auth type 6) vs IPMI 1.5 format
  std::uint8_t payload_type = 0;
  std::uint32_t console_sid = 0;  ///< our session id, from header or setup payload; 0 if n/a
};
/// Cheap classification for demultiplexing.  False: not an RMCP/IPMI packet at all.
bool peek(ByteView pkt, Peek& out);

// ---- requests ------------------------------------------------------------------------------
/// IPMI 1.5 pre-session Get Channel Authentication Capabilities (with the v2.0 extended bit).
bool build_get_channel_auth_caps(std::uint8_t rq_seq, std::uint8_t privilege, Bytes& out,
                                 std::string* err);
bool build_open_session(std::uint8_t tag, const Handshake& hs, const Algorithms& alg, Bytes& out,
                        std::string* err);
bool build_rakp1(std::uint8_t tag, const Handshake& hs, const Creds& c, Bytes& out,
                 std::string* err);
/// RAKP 3; `status` != 0 aborts the handshake (sent after a failed RAKP 2 check).
bool build_rakp3(std::uint8_t tag, std::uint8_t status, const Handshake& hs, const Creds& c,
                 const Algorithms& alg, Bytes& out, std::string* err);
/// An IPMI request inside an established session (integrity + confidentiality per keys).
bool build_session_request(const SessionKeys& k, std::uint32_t bmc_sid, std::uint32_t seq,
                           std::uint8_t netfn, std::uint8_t rq_seq, fiid_obj_t obj_cmd, Bytes& out,
                           std::string* err);

// ---- responses -----------------------------------------------------------------------------
enum class ParseResult : std::uint8_t {
  Ok,       ///< the expected reply, fully checked
  Ignore,   ///< not the reply we wait for (stale, other rq_seq, bad checksum): drop silently
  Invalid,  ///< authenticated mismatch etc.: reason in err
};

struct AuthCaps {
  std::uint8_t comp_code = 0;
  bool ipmi20 = false;
};
ParseResult parse_get_channel_auth_caps(ByteView pkt, std::uint8_t rq_seq, AuthCaps& out,
                                        std::string* err);

struct SetupReply {
  std::uint8_t tag = 0;
  std::uint8_t status = 0;         ///< RMCP+ status code
  std::uint8_t max_privilege = 0;  ///< open session response only
  std::uint32_t console_sid = 0;
  std::uint32_t bmc_sid = 0;  ///< open session response only
  Algorithms alg;             ///< open session response only
};
ParseResult parse_open_session_response(ByteView pkt, std::uint8_t tag, SetupReply& out,
                                        std::string* err);
/// RAKP 2: on status 0 also verifies the BMC's key exchange code.  `auth_ok` false means the
/// code did not match: wrong password (or a privilege the BMC silently refuses).
ParseResult parse_rakp2(ByteView pkt, std::uint8_t tag, Handshake& hs, const Creds& c,
                        const Algorithms& alg, SetupReply& out, bool& auth_ok, std::string* err);
/// RAKP 4: on status 0 verifies the integrity check value (wrong K_g if not).
ParseResult parse_rakp4(ByteView pkt, std::uint8_t tag, const Handshake& hs, const SessionKeys& k,
                        SetupReply& out, bool& icv_ok, std::string* err);

/// Initialise libfreeipmi's crypto (once; also done by make_backend()).
bool crypto_init();
/// Compute SIK/K1/K2 after a good RAKP 2.
bool compute_session_keys(const Handshake& hs, const Creds& c, const Algorithms& alg,
                          SessionKeys& out, std::string* err);

/// A reply inside the session; obj_cmd receives the response body.  Checks session id,
/// integrity (auth code and pads), checksums, netfn/cmd/rq_seq.
ParseResult parse_session_reply(const SessionKeys& k, std::uint32_t console_sid, ByteView pkt,
                                std::uint8_t netfn_rq, std::uint8_t cmd, std::uint8_t rq_seq,
                                fiid_obj_t obj_cmd, std::string* err);

}  // namespace fleetpower::ipmi
