package resources

import (
	"context"
	"errors"
	"net"
)

// ErrAllocated: the requested IP or port is already in use.
var ErrAllocated = errors.New("provided address is already allocated")

// ErrNotInRange: the requested IP or port is outside the allocator's range.
var ErrNotInRange = errors.New("provided address is not in the valid range")

// ErrFull: nothing is left to allocate.
var ErrFull = errors.New("range is full")

// IPAllocator hands out ClusterIPs. Implementations are persistent and safe
// for concurrent use by several API servers.
type IPAllocator interface {
	// CIDR is the range served.
	CIDR() *net.IPNet
	// Allocate reserves ip (ErrAllocated, ErrNotInRange).
	Allocate(ctx context.Context, ip net.IP) error
	// AllocateNext reserves a free ip (ErrFull).
	AllocateNext(ctx context.Context) (net.IP, error)
	// Release frees ip; releasing a free ip is not an error.
	Release(ctx context.Context, ip net.IP) error
}

// PortAllocator hands out node ports, with the same contract.
type PortAllocator interface {
	Base() int
	Size() int
	Allocate(ctx context.Context, port int) error
	AllocateNext(ctx context.Context) (int, error)
	Release(ctx context.Context, port int) error
}
