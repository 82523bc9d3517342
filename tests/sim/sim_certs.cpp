// SPDX-License-Identifier: GPL-3.0-or-later
// fleetpower-sim: a throw-away CA and one server certificate per simulated BMC (IP SAN = its
// address), so clients verify TLS for real with --ca-file.  EC P-256 keeps start-up fast:
// 5000 certificates take well under a second.  One server key is shared by all BMCs
// (certificates, and so fingerprints, still differ per BMC).
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <ctime>

#include "sim.hpp"

namespace fleetpower::sim {

struct CertSet {
  EVP_PKEY* ca_key = nullptr;
  X509* ca = nullptr;
  EVP_PKEY* server_key = nullptr;
  EVP_PKEY* rogue_key = nullptr;  // for self-signed certificates
  std::vector<X509*> certs;
  std::vector<EVP_PKEY*> keys;  // borrowed pointers (server_key or rogue_key)
  std::vector<std::string> fingerprints;
  ~CertSet() {
    for (auto* c : certs) X509_free(c);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(server_key);
    EVP_PKEY_free(rogue_key);
  }
};

namespace {

bool add_ext(X509* issuer, X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return false;
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok == 1;
}

bool set_serial(X509* x) {
  unsigned char buf[16];
  if (RAND_bytes(buf, sizeof buf) != 1) return false;
  buf[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(buf, sizeof buf, nullptr);
  if (!bn) return false;
  ASN1_INTEGER* ai = BN_to_ASN1_INTEGER(bn, nullptr);
  BN_free(bn);
  if (!ai) return false;
  int ok = X509_set_serialNumber(x, ai);
  ASN1_INTEGER_free(ai);
  return ok == 1;
}

X509* new_cert(const std::string& cn, EVP_PKEY* key, long not_before, long not_after) {
  X509* x = X509_new();
  if (!x) return nullptr;
  X509_set_version(x, 2);
  set_serial(x);
  X509_gmtime_adj(X509_getm_notBefore(x), not_before);
  X509_gmtime_adj(X509_getm_notAfter(x), not_after);
  X509_set_pubkey(x, key);
  X509_NAME* n = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("fleetpower-sim"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  return x;
}

std::string fingerprint(X509* x) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(x, EVP_sha256(), md, &len) != 1) return {};
  static const char* hex = "0123456789ABCDEF";
  std::string s;
  for (unsigned i = 0; i < len; ++i) {
    if (i) s += ':';
    s += hex[md[i] >> 4];
    s += hex[md[i] & 15];
  }
  return s;
}

constexpr long kDay = 86400;

}  // namespace

std::shared_ptr<CertSet> make_certs(const std::vector<CertRequest>& reqs,
                                    const std::string& ca_path, std::string* err) {
  auto cs = std::make_shared<CertSet>();
  cs->ca_key = EVP_EC_gen("P-256");
  cs->server_key = EVP_EC_gen("P-256");
  cs->rogue_key = EVP_EC_gen("P-256");
  if (!cs->ca_key || !cs->server_key || !cs->rogue_key) {
    *err = "EC key generation failed";
    return nullptr;
  }
  cs->ca = new_cert("fleetpower-sim CA", cs->ca_key, -kDay, 3650 * kDay);
  if (!cs->ca) {
    *err = "X509_new failed";
    return nullptr;
  }
  X509_set_issuer_name(cs->ca, X509_get_subject_name(cs->ca));
  if (!add_ext(cs->ca, cs->ca, NID_basic_constraints, "critical,CA:TRUE") ||
      !add_ext(cs->ca, cs->ca, NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !add_ext(cs->ca, cs->ca, NID_subject_key_identifier, "hash") ||
      X509_sign(cs->ca, cs->ca_key, EVP_sha256()) == 0) {
    *err = "CA certificate creation failed";
    return nullptr;
  }
  // Extensions shared by every CA-signed server certificate (same key, same issuer): built once,
  // so 5000 certificates cost little more than their signatures.
  std::vector<X509_EXTENSION*> common;
  {
    X509* proto = new_cert("proto", cs->server_key, 0, 1);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cs->ca, proto, nullptr, nullptr, 0);
    const std::pair<int, const char*> specs[] = {
        {NID_basic_constraints, "critical,CA:FALSE"},
        {NID_key_usage, "critical,digitalSignature,keyAgreement"},
        {NID_ext_key_usage, "serverAuth"},
        {NID_subject_key_identifier, "hash"},
        {NID_authority_key_identifier, "keyid:always"}};
    for (const auto& [nid, val] : specs) {
      X509_EXTENSION* e = proto ? X509V3_EXT_conf_nid(nullptr, &ctx, nid, val) : nullptr;
      if (!e) {
        *err = "certificate extension setup failed";
        for (auto* x : common) X509_EXTENSION_free(x);
        X509_free(proto);
        return nullptr;
      }
      common.push_back(e);
    }
    X509_free(proto);
  }
  struct Freer {
    std::vector<X509_EXTENSION*>* v;
    ~Freer() {
      for (auto* x : *v) X509_EXTENSION_free(x);
    }
  } freer{&common};
  for (const auto& r : reqs) {
    bool self = r.kind == "selfsigned";
    EVP_PKEY* key = self ? cs->rogue_key : cs->server_key;
    long nb = -kDay, na = 825 * kDay;
    if (r.kind == "expired") {
      nb = -400 * kDay;
      na = -30 * kDay;
    }
    X509* x = new_cert(r.ip, key, nb, na);
    if (!x) {
      *err = "X509_new failed";
      return nullptr;
    }
    X509* issuer = self ? x : cs->ca;
    X509_set_issuer_name(x, X509_get_subject_name(issuer));
    std::string san = r.kind == "wrongname" ? "IP:192.0.2.1,DNS:wrong-name.invalid"
                                            : "IP:" + r.ip + ",DNS:localhost";
    bool ok = true;
    if (self) {
      ok = add_ext(issuer, x, NID_basic_constraints, "critical,CA:FALSE") &&
           add_ext(issuer, x, NID_key_usage, "critical,digitalSignature,keyAgreement") &&
           add_ext(issuer, x, NID_ext_key_usage, "serverAuth") &&
           add_ext(issuer, x, NID_subject_alt_name, san) &&
           add_ext(issuer, x, NID_subject_key_identifier, "hash");
    } else {
      for (auto* e : common) ok = ok && X509_add_ext(x, e, -1) == 1;
      ok = ok && add_ext(issuer, x, NID_subject_alt_name, san);
    }
    if (!ok || X509_sign(x, self ? cs->rogue_key : cs->ca_key, EVP_sha256()) == 0) {
      X509_free(x);
      *err = "server certificate creation failed for " + r.ip;
      return nullptr;
    }
    cs->certs.push_back(x);
    cs->keys.push_back(key);
    cs->fingerprints.push_back(fingerprint(x));
  }
  FILE* f = std::fopen(ca_path.c_str(), "w");
  if (!f) {
    *err = "cannot write " + ca_path;
    return nullptr;
  }
  bool ok = PEM_write_X509(f, cs->ca) == 1;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    *err = "cannot write " + ca_path;
    return nullptr;
  }
  return cs;
}

std::string cert_fingerprint(const CertSet& c, std::size_t i) { return c.fingerprints.at(i); }
void* cert_x509(const CertSet& c, std::size_t i) { return c.certs.at(i); }
void* cert_key(const CertSet& c, std::size_t i) { return c.keys.at(i); }

}  // namespace fleetpower::sim
