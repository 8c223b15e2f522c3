// A consumer that is a viewer session on this node: relays to its Janus handle, on which it
// holds its own reference (HandleRef), so that a device's snapshot that still lists it after
// its session left never relays to a freed handle. Keeps the viewer's stream continuous
// (one SSRC, sequence and timestamps carried on) across producers, with the payload types of
// its offer.
#pragma once

#include <mutex>

#include "consumer.h"
#include "handle_ref.h"
#include "rtp_rewriter.h"

namespace jmedia {

class LocalViewer final : public Consumer {
 public:
  LocalViewer(Host& host, janus_plugin_session* handle);

  void send_rtp(janus_plugin_rtp& packet) override;
  void send_data(janus_plugin_data& packet) override;
  void use_media(const PublisherMedia& media) override;
  janus_plugin_session* session_handle() const override { return handle_.get(); }

 private:
  HandleRef handle_;
  // Held while a packet is rewritten and relayed: only two producers overlapping during a
  // hand-over ever contend for it. A leaf: nothing is locked inside it.
  std::mutex relay_mutex_;
  RtpRewriter audio_;
  RtpRewriter video_;
};

}  // namespace jmedia
