// One reference on a janus_plugin_session, held for as long as this object lives: what lets a
// producer or consumer relay to its handle from a media-path snapshot that outlives the
// session owning the core's reference (the handle is freed only when every reference is gone).
#pragma once

#include <utility>

#include "host.h"

namespace jmedia {

class HandleRef {
 public:
  HandleRef(Host& host, janus_plugin_session* handle) : host_(&host), handle_(handle) {
    host_->retain_handle(handle_);
  }
  ~HandleRef() {
    if (handle_ != nullptr) host_->release_handle(handle_);
  }
  HandleRef(const HandleRef&) = delete;
  HandleRef& operator=(const HandleRef&) = delete;
  HandleRef(HandleRef&& other) noexcept
      : host_(other.host_), handle_(std::exchange(other.handle_, nullptr)) {}
  HandleRef& operator=(HandleRef&&) = delete;

  janus_plugin_session* get() const { return handle_; }
  Host& host() const { return *host_; }

 private:
  Host* host_;
  janus_plugin_session* handle_;
};

}  // namespace jmedia
