// A stand-in for one of our Janus modules: a separately linked, dlopen()ed shared object that
// uses libjmedia_runtime. The runtime test loads two of these and checks they share its state.
#include "candidate_ledger.h"
#include "runtime.h"

extern "C" __attribute__((visibility("default"))) void* jmedia_probe_registry() {
  return &jmedia::runtime::registry();
}

extern "C" __attribute__((visibility("default"))) void jmedia_probe_set_draining(bool draining) {
  jmedia::runtime::set_plugin_draining(draining);
}

extern "C" __attribute__((visibility("default"))) bool jmedia_probe_draining() {
  return jmedia::runtime::plugin_draining();
}

extern "C" __attribute__((visibility("default"))) void* jmedia_probe_ledger() {
  return &jmedia::runtime::candidate_ledger();
}
