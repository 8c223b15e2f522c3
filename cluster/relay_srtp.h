// One direction of a relay's SRTP: a libsrtp2 session with one key, AEAD_AES_128_GCM for RTP
// and RTCP (cheaper per packet than AES_CM_128_HMAC_SHA1_80 with Debian's NSS-backed libsrtp2;
// README, "Scale-out"). A library without GCM is refused: no weaker fallback (fail closed).
//
// libsrtp is initialised once per process (srtp_init under std::call_once) and never shut down
// by us: inside Janus the core already initialised it (a second srtp_init then only re-runs its
// self-tests), and a session may live until the process ends.
//
// Not thread-safe: the owner serialises every call on one session.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "relay_keys.h"

struct srtp_ctx_t_;

namespace jmedia::cluster {

// The room protect needs past the plain bytes: libsrtp may write up to its maximum trailer
// (tag and MKI) plus the SRTCP index, although GCM without MKI adds 16 bytes (20 for RTCP).
inline constexpr std::size_t kSrtpRoom = 160;
// What protect adds with this suite: the GCM tag, and for RTCP the SRTCP index too.
inline constexpr std::size_t kSrtpTag = 16;
inline constexpr std::size_t kSrtcpTrailer = kSrtpTag + 4;

enum class SrtpResult {
  kOk,
  kAuthFailed,  // not made with this key (or altered): never deliver it
  kReplayed,    // an index already seen, or older than the replay window
  kMalformed,   // too short, or not a plausible header
  kFailed,      // anything else libsrtp reports
};
const char* srtp_result_name(SrtpResult result);

class SrtpSession {
 public:
  enum class Role { kOutbound, kInbound };
  // Retransmissions re-protect packets up to this many packets back (the sender's history is
  // smaller): the replay window of both ends.
  static constexpr unsigned kReplayWindow = 1024;

  // null with error set when libsrtp cannot be initialised or refuses the policy.
  static std::unique_ptr<SrtpSession> create(const RelayKey& key, Role role, std::string& error);
  ~SrtpSession();
  SrtpSession(const SrtpSession&) = delete;
  SrtpSession& operator=(const SrtpSession&) = delete;

  // Protects len plain bytes of in into out (in == out: in place); out has out_cap bytes, at
  // least len + kSrtpRoom. out_len is the protected length on kOk.
  SrtpResult protect_rtp(const std::uint8_t* in, std::size_t len, std::uint8_t* out,
                         std::size_t out_cap, std::size_t& out_len);
  SrtpResult protect_rtcp(const std::uint8_t* in, std::size_t len, std::uint8_t* out,
                          std::size_t out_cap, std::size_t& out_len);
  // In place: len becomes the plain length on kOk.
  SrtpResult unprotect_rtp(std::uint8_t* buffer, std::size_t& len);
  SrtpResult unprotect_rtcp(std::uint8_t* buffer, std::size_t& len);

  static const char* suite_name() { return "AEAD_AES_128_GCM"; }

 private:
  explicit SrtpSession(srtp_ctx_t_* session) : session_(session) {}
  srtp_ctx_t_* session_;
};

// Initialises libsrtp once per process; error says why when it cannot be used. Any thread.
bool srtp_library_ready(std::string& error);

}  // namespace jmedia::cluster
