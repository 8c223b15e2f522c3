package main

import "testing"

func rtp(payload []byte, extension []byte) []byte {
	first := byte(0x80)
	if len(extension) > 0 {
		first |= 0x10
	}
	p := append([]byte{first, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2}, extension...)
	return append(p, payload...)
}

func TestVP8Keyframe(t *testing.T) {
	cases := []struct {
		name string
		pkt  []byte
		want bool
	}{
		// descriptor: X=1, S=1, PID=0; I=1 with a 15-bit picture id; then the VP8 header
		{"keyframe", rtp([]byte{0x90, 0x80, 0x81, 0x23, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a}, nil), true},
		{"interframe", rtp([]byte{0x90, 0x80, 0x81, 0x24, 0x31, 0x02, 0x00}, nil), false},
		{"continuation (S=0)", rtp([]byte{0x80, 0x80, 0x81, 0x23, 0x10}, nil), false},
		{"partition 1", rtp([]byte{0x11, 0x10}, nil), false},
		{"descriptor only", rtp([]byte{0x10}, nil), false},
		{"7-bit picture id, TL0PICIDX, TID", rtp([]byte{0x90, 0xe0, 0x05, 0x01, 0x40, 0x10}, nil), true},
		{"after a header extension", rtp([]byte{0x10, 0x10},
			[]byte{0xbe, 0xde, 0, 1, 0x10, 0xff, 0, 0}), true},
		{"truncated header extension", []byte{0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0xbe, 0xde, 0, 9, 0x10}, false},
		{"not RTP", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80}, false},
		{"RTP version 1", append([]byte{0x40}, rtp([]byte{0x10, 0x10}, nil)[1:]...), false},
	}
	for _, c := range cases {
		if got := vp8Keyframe(c.pkt); got != c.want {
			t.Errorf("%s: vp8Keyframe = %v, want %v", c.name, got, c.want)
		}
	}
}

func counter(seqs ...uint16) *SeqCounter {
	s := &SeqCounter{}
	for _, q := range seqs {
		s.Add(q)
	}
	return s
}

func TestSeqCounter(t *testing.T) {
	cases := []struct {
		name           string
		s              *SeqCounter
		expected, lost int64
	}{
		{"none", counter(), 0, 0},
		{"in order", counter(10, 11, 12, 13), 4, 0},
		{"a gap", counter(10, 11, 14, 15), 6, 2},
		{"across the wrap", counter(65534, 65535, 0, 1), 4, 0},
		{"a gap across the wrap", counter(65533, 65535, 1, 2), 6, 2},
		{"reordered", counter(10, 12, 11, 13), 4, 0},
		{"reordered across the wrap", counter(65535, 1, 0, 2), 4, 0},
		{"late packet from before the first", counter(100, 101, 99), 3, 0},
		{"duplicate: lost clamps at 0", counter(5, 6, 6, 7), 3, 0},
		{"a second wrap", append16(0, 3*65536), 3 * 65536, 0},
	}
	for _, c := range cases {
		if e, l := c.s.Expected(), c.s.Lost(); e != c.expected || l != c.lost {
			t.Errorf("%s: expected %d lost %d, want %d and %d", c.name, e, l, c.expected, c.lost)
		}
	}
}

// append16: n consecutive sequence numbers from first (wrapping).
func append16(first uint16, n int) *SeqCounter {
	s := &SeqCounter{}
	for i := 0; i < n; i++ {
		s.Add(first + uint16(i))
	}
	return s
}
