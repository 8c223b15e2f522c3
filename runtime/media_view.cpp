#include "media_view.h"

namespace jmedia::runtime {
namespace {

// Never destroyed: a module thread still running during exit() may hold a lease.
CallGate<MediaView>& gate() {
  static auto* const instance = new CallGate<MediaView>();
  return *instance;
}

}  // namespace

bool publish_media_view(MediaView* view) noexcept {
  return view != nullptr && gate().open(view);
}

bool withdraw_media_view(MediaView* view, std::chrono::milliseconds timeout) noexcept {
  if (!gate().close(view)) return true;  // not published: nobody can be inside it
  return gate().wait_until_drained(std::chrono::steady_clock::now() + timeout);
}

MediaViewLease media_view() noexcept {
  return gate().enter();
}

}  // namespace jmedia::runtime
