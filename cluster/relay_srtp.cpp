#include "relay_srtp.h"

#include <srtp2/srtp.h>

#include <climits>
#include <cstring>
#include <mutex>

#include "../common/log.h"

namespace jmedia::cluster {
namespace {

static_assert(kSrtpRoom >= SRTP_MAX_TRAILER_LEN + 4, "libsrtp may write its whole trailer");
static_assert(kRelayKeyBytes == SRTP_AES_GCM_128_KEY_LEN_WSALT, "a GCM-128 key and salt");

constexpr std::size_t kRtpHeader = 12;
constexpr std::size_t kRtcpHeader = 8;

struct LibraryState {
  std::once_flag once;
  srtp_err_status_t init_status = srtp_err_status_ok;
};
LibraryState& library() {
  static LibraryState state;
  return state;
}

SrtpResult map_status(srtp_err_status_t status) {
  switch (status) {
    case srtp_err_status_ok:
      return SrtpResult::kOk;
    case srtp_err_status_auth_fail:
      return SrtpResult::kAuthFailed;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old:
      return SrtpResult::kReplayed;
    case srtp_err_status_bad_param:
    case srtp_err_status_parse_err:
      return SrtpResult::kMalformed;
    default:
      return SrtpResult::kFailed;
  }
}

bool version_2(const std::uint8_t* packet) {
  return (packet[0] >> 6) == 2;
}

}  // namespace

const char* srtp_result_name(SrtpResult result) {
  switch (result) {
    case SrtpResult::kOk:
      return "ok";
    case SrtpResult::kAuthFailed:
      return "authentication failed";
    case SrtpResult::kReplayed:
      return "replayed";
    case SrtpResult::kMalformed:
      return "malformed";
    case SrtpResult::kFailed:
      break;
  }
  return "failed";
}

bool srtp_library_ready(std::string& error) {
  LibraryState& state = library();
  std::call_once(state.once, [&state] { state.init_status = srtp_init(); });
  // bad_param: libsrtp was initialised before (by Janus): its kernel is up; a session decides.
  if (state.init_status == srtp_err_status_ok || state.init_status == srtp_err_status_bad_param) {
    return true;
  }
  error = "libsrtp (" + std::string(srtp_get_version_string()) +
          ") failed to initialise: srtp_init status " +
          std::to_string(static_cast<int>(state.init_status));
  return false;
}

std::unique_ptr<SrtpSession> SrtpSession::create(const RelayKey& key, Role role,
                                                 std::string& error) {
  if (!srtp_library_ready(error)) return nullptr;
  srtp_policy_t policy;
  std::memset(&policy, 0, sizeof policy);
  srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
  srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
  policy.ssrc.type = role == Role::kOutbound ? ssrc_any_outbound : ssrc_any_inbound;
  // libsrtp copies the key into the session.
  RelayKey copy = key;
  policy.key = copy.data();
  policy.window_size = kReplayWindow;
  // A NACKed packet is protected again with its own index and the same payload.
  policy.allow_repeat_tx = role == Role::kOutbound ? 1 : 0;
  policy.next = nullptr;
  srtp_t session = nullptr;
  const srtp_err_status_t status = srtp_create(&session, &policy);
  std::memset(copy.data(), 0, copy.size());
  if (status != srtp_err_status_ok || session == nullptr) {
    error = std::string("libsrtp (") + srtp_get_version_string() + ") refused " + suite_name() +
            " (srtp_create status " + std::to_string(static_cast<int>(status)) +
            "): relays need it; no weaker suite is used";
    return nullptr;
  }
  return std::unique_ptr<SrtpSession>(new SrtpSession(session));
}

SrtpSession::~SrtpSession() {
  srtp_dealloc(session_);
}

SrtpResult SrtpSession::protect_rtp(const std::uint8_t* in, std::size_t len, std::uint8_t* out,
                                    std::size_t out_cap, std::size_t& out_len) {
  if (len < kRtpHeader || !version_2(in)) return SrtpResult::kMalformed;
  if (out_cap < len + kSrtpRoom || len > INT_MAX / 2) return SrtpResult::kFailed;
  if (in != out) std::memcpy(out, in, len);
  int length = static_cast<int>(len);
  const SrtpResult result = map_status(srtp_protect(session_, out, &length));
  if (result == SrtpResult::kOk) out_len = static_cast<std::size_t>(length);
  return result;
}

SrtpResult SrtpSession::protect_rtcp(const std::uint8_t* in, std::size_t len, std::uint8_t* out,
                                     std::size_t out_cap, std::size_t& out_len) {
  if (len < kRtcpHeader || !version_2(in)) return SrtpResult::kMalformed;
  if (out_cap < len + kSrtpRoom || len > INT_MAX / 2) return SrtpResult::kFailed;
  if (in != out) std::memcpy(out, in, len);
  int length = static_cast<int>(len);
  const SrtpResult result = map_status(srtp_protect_rtcp(session_, out, &length));
  if (result == SrtpResult::kOk) out_len = static_cast<std::size_t>(length);
  return result;
}

SrtpResult SrtpSession::unprotect_rtp(std::uint8_t* buffer, std::size_t& len) {
  if (len < kRtpHeader + kSrtpTag || len > INT_MAX / 2 || !version_2(buffer)) {
    return SrtpResult::kMalformed;
  }
  int length = static_cast<int>(len);
  const SrtpResult result = map_status(srtp_unprotect(session_, buffer, &length));
  if (result == SrtpResult::kOk) len = static_cast<std::size_t>(length);
  return result;
}

SrtpResult SrtpSession::unprotect_rtcp(std::uint8_t* buffer, std::size_t& len) {
  if (len < kRtcpHeader + kSrtcpTrailer || len > INT_MAX / 2 || !version_2(buffer)) {
    return SrtpResult::kMalformed;
  }
  int length = static_cast<int>(len);
  const SrtpResult result = map_status(srtp_unprotect_rtcp(session_, buffer, &length));
  if (result == SrtpResult::kOk) len = static_cast<std::size_t>(length);
  return result;
}

}  // namespace jmedia::cluster
