#include "hold_queue.h"

namespace jmedia::edge {

HoldQueue::HoldQueue(HoldOptions options, runtime::PcWatch* watch)
    : options_(options), watch_(watch) {}

HoldQueue::~HoldQueue() {
  stop();
}

void HoldQueue::negotiating(const runtime::HandleKey&) {}
void HoldQueue::signal(const runtime::HandleKey&, PcSignal) {}
void HoldQueue::session_gone(std::uint64_t) {}
HoldQueue::Verdict HoldQueue::admit(const runtime::HandleKey&, Verb, Clock::time_point,
                                    Forward&) {
  return Verdict::kForward;
}
std::size_t HoldQueue::release_due(Clock::time_point) {
  return 0;
}
std::size_t HoldQueue::release_all() {
  return 0;
}
void HoldQueue::start() {}
void HoldQueue::stop() noexcept {}
bool HoldQueue::is_negotiating(const runtime::HandleKey&) {
  return false;
}
void HoldQueue::settled(const runtime::HandleKey&) noexcept {}

}  // namespace jmedia::edge
