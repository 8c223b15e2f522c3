// The one include for Janus's C headers. They carry no __cplusplus guards, so GLib and
// Jansson come first (outside extern "C") and the Janus headers are wrapped here.
#pragma once

#include <glib.h>
#include <jansson.h>

extern "C" {
#include <plugins/plugin.h>
#include <transports/transport.h>
#include <events/eventhandler.h>
#include <sdp-utils.h>
#include <config.h>
#include <debug.h>
#include <rtp.h>
#include <rtcp.h>
}
