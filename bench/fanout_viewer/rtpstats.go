package main

// What a viewer counts per received RTP stream: packets, payload bytes and loss from the
// sequence numbers (RFC 3550 A.3: expected from the extended highest sequence number,
// minus received), and whether a packet starts a VP8 keyframe.

// SeqCounter follows one stream's sequence numbers across the 16-bit wrap. Reordered
// packets count as received and do not move the highest number back; duplicates (a
// retransmission of a packet that arrived after all) make received exceed expected, which
// Lost clamps at zero as RFC 3550 does.
type SeqCounter struct {
	started  bool
	base     int64 // extended number of the first packet
	highest  int64 // extended highest number seen
	received int64
}

func (s *SeqCounter) Add(seq uint16) {
	s.received++
	if !s.started {
		s.started, s.base, s.highest = true, int64(seq), int64(seq)
		return
	}
	// The extended number nearest to the highest seen: a forward step of up to 2^15
	// (a wrap included) or a late packet up to 2^15 behind.
	delta := int64(int16(seq - uint16(s.highest)))
	if ext := s.highest + delta; ext > s.highest {
		s.highest = ext
	} else if ext < s.base {
		s.base = ext // late packet from before the first one we saw
	}
}

func (s *SeqCounter) Expected() int64 {
	if !s.started {
		return 0
	}
	return s.highest - s.base + 1
}

func (s *SeqCounter) Lost() int64 {
	if lost := s.Expected() - s.received; lost > 0 {
		return lost
	}
	return 0
}

// rtpPayload is the offset of the payload in an RTP packet (after CSRCs and the header
// extension), or -1 when the packet is too short or not RTP version 2.
func rtpPayload(p []byte) int {
	if len(p) < 12 || p[0]>>6 != 2 {
		return -1
	}
	off := 12 + 4*int(p[0]&0x0F)
	if p[0]&0x10 != 0 { // header extension
		if len(p) < off+4 {
			return -1
		}
		off += 4 + 4*(int(p[off+2])<<8|int(p[off+3]))
	}
	if off > len(p) {
		return -1
	}
	return off
}

// vp8Keyframe: the packet starts a VP8 keyframe (RFC 7741: the payload descriptor's S bit
// with partition 0, then the P bit of the VP8 frame header clear).
func vp8Keyframe(p []byte) bool {
	off := rtpPayload(p)
	if off < 0 || off >= len(p) {
		return false
	}
	d := p[off]
	if d&0x10 == 0 || d&0x07 != 0 { // not the start of partition 0
		return false
	}
	off++
	if d&0x80 != 0 { // X: extension byte
		if off >= len(p) {
			return false
		}
		x := p[off]
		off++
		if x&0x80 != 0 { // I: picture id, 7 or 15 bits
			if off >= len(p) {
				return false
			}
			if p[off]&0x80 != 0 {
				off += 2
			} else {
				off++
			}
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			off++
		}
		if x&0x30 != 0 { // T or K: TID/Y/KEYIDX
			off++
		}
	}
	return off < len(p) && p[off]&0x01 == 0
}
