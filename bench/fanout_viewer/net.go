package main

// Every ICE socket gets a large receive buffer: the viewers share two cores with Janus (and,
// here, with other jobs), and a few hundred milliseconds without the CPU must not drop
// packets in the kernel (the default net.core.rmem_default holds about 90 packets, under a
// second of one viewer's stream). SO_RCVBUFFORCE (CAP_NET_ADMIN) passes net.core.rmem_max;
// without the capability SO_RCVBUF gives what rmem_max allows.

import (
	"net"
	"sync/atomic"
	"syscall"

	"github.com/pion/transport/v2"
	"github.com/pion/transport/v2/stdnet"
)

type bigBufferNet struct {
	*stdnet.Net
	size int
	got  *atomic.Int64 // the buffer the kernel granted the last socket (SO_RCVBUF)
}

func newBigBufferNet(size int) (*bigBufferNet, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return &bigBufferNet{Net: n, size: size, got: &atomic.Int64{}}, nil
}

func (n *bigBufferNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil || n.size <= 0 {
		return c, err
	}
	if u, ok := c.(*net.UDPConn); ok {
		n.got.Store(int64(setReceiveBuffer(u, n.size)))
	}
	return c, nil
}

// setReceiveBuffer: the receive buffer the kernel granted, in bytes (0: unknown).
func setReceiveBuffer(c *net.UDPConn, size int) int {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	got := 0
	raw.Control(func(fd uintptr) {
		if syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, size) != nil {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, size)
		}
		got, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	})
	return got
}
