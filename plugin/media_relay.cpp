// The media path: RTP, RTCP and data from the core. Runs on each handle's loop thread and
// takes no lock shared with other devices: a publisher's packets go to its device, the router
// (Device::route_rtp), which copies the pointer to its copy-on-write consumer list (under its
// snapshot lock, held for that copy only) and hands the packet to each started consumer.
#include "media_plugin.h"
#include "outbound_relay.h"

namespace jmedia {

void MediaPlugin::incoming_rtp(janus_plugin_session* handle, janus_plugin_rtp* packet) {
  MediaSession* session = live_session(handle);
  if (session == nullptr || packet == nullptr) return;
  session->count_in(packet->length);
  switch (session->role()) {
    case Role::kEcho:
      if (!session->kind_enabled(packet->video)) return;
      host_.relay_rtp(handle, packet);
      session->count_out(packet->length);
      metrics_->rtp_relayed(packet->video, packet->length);
      return;
    case Role::kPublisher:
      if (session->kind_enabled(packet->video)) relay_to_viewers(*session, packet);
      return;
    default:
      return;  // viewers send nothing we forward
  }
}

void MediaPlugin::relay_to_viewers(MediaSession& publisher, janus_plugin_rtp* packet) {
  Device* device = publisher.device();
  LocalPublisher* producer = publisher.publisher();
  if (device == nullptr || producer == nullptr) return;
  const std::size_t copies = device->route_rtp(*producer, *packet);
  // The shared counters once per packet: every loop thread adds to them.
  if (copies != 0) {
    metrics_->rtp_relayed(packet->video, packet->length, copies);
    metrics_->device_relayed(device->series_slot(), packet->length, copies);
  }
}

void MediaPlugin::incoming_rtcp(janus_plugin_session* handle, janus_plugin_rtcp* packet) {
  MediaSession* session = live_session(handle);
  if (session == nullptr || packet == nullptr) return;
  switch (session->role()) {
    case Role::kEcho:
      // The peer's feedback is about the stream we send back, which is its own.
      host_.relay_rtcp(handle, packet);
      return;
    case Role::kPublisher:
      relay_sender_reports(*session, *packet);
      return;
    case Role::kViewer:
      // Keyframe requests go to the device's producer; the core answers the rest (NACKs).
      if (packet->video && host_.requests_keyframe(packet)) {
        if (Device* device = session->device()) device->request_keyframe(false);
      }
      return;
    default:
      return;
  }
}

void MediaPlugin::relay_sender_reports(MediaSession& publisher, const janus_plugin_rtcp& packet) {
  Device* device = publisher.device();
  LocalPublisher* producer = publisher.publisher();
  if (device == nullptr || producer == nullptr || packet.buffer == nullptr) return;
  auto current = device->producer();
  if (current.get() != producer) return;  // a publisher a hand-over replaced
  // Only relays to other nodes: the core makes its own reports for each local viewer.
  for (const auto& consumer : *device->consumers()) {
    if (auto* relay = dynamic_cast<OutboundRelay*>(consumer.get())) {
      relay->send_sender_reports(packet.buffer, packet.length);
    }
  }
}

void MediaPlugin::incoming_data(janus_plugin_session* handle, janus_plugin_data* packet) {
  MediaSession* session = live_session(handle);
  if (session == nullptr || packet == nullptr || packet->buffer == nullptr) return;
  session->count_in(packet->length);
  if (!session->data_enabled()) return;
  if (session->role() == Role::kEcho) {
    host_.relay_data(handle, packet);
    session->count_out(packet->length);
    metrics_->data_relayed(packet->length);
  } else if (session->role() == Role::kPublisher) {
    relay_data_to_viewers(*session, packet);
  }
}

void MediaPlugin::relay_data_to_viewers(MediaSession& publisher, janus_plugin_data* packet) {
  Device* device = publisher.device();
  LocalPublisher* producer = publisher.publisher();
  if (device == nullptr || producer == nullptr) return;
  const std::size_t copies = device->route_data(*producer, *packet);
  if (copies != 0) metrics_->data_relayed(packet->length, copies);
}

}  // namespace jmedia
