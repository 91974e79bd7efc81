package apiserver

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net"
	"path"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/apiserver/resources"
	"github.com/skiff-sh/skiff/internal/storage"
)

// bitmapAllocator keeps a range's allocations as one bitmap in a
// RangeAllocation object in etcd. Every change is a compare-and-swap on
// that object, so several API servers allocate without races, and the
// state survives restarts.
type bitmapAllocator struct {
	store    storage.Interface
	key      string
	rangeStr string
	size     int
	// staticBand offsets at the bottom are used for dynamic allocation
	// only once the rest is full, so well-known addresses (10.43.0.10 for
	// DNS) stay free for those who ask for them by name.
	staticBand int
}

var errRangeChanged = errors.New("the stored allocation range differs from the configured one")

func (s *Server) rawStore(group, name string) (storage.Interface, string) {
	st := storage.NewStore(s.cfg.Etcd, storage.StoreConfig{
		Codec:       storage.NewCodec(s.scheme, corev1.SchemeGroupVersion),
		NewFunc:     func() runtime.Object { return &corev1.RangeAllocation{} },
		NewListFunc: func() runtime.Object { return &corev1.List{} },
	})
	return st, path.Join(s.cfg.KeyPrefix, group, name)
}

func newBitmapAllocator(st storage.Interface, key, rangeStr string, size int) *bitmapAllocator {
	band := size / 16
	if band < 16 {
		band = 16
	}
	if band > 256 {
		band = 256
	}
	if band > size {
		band = 0
	}
	return &bitmapAllocator{store: st, key: key, rangeStr: rangeStr, size: size, staticBand: band}
}

// update applies fn to the bitmap with compare-and-swap.
func (a *bitmapAllocator) update(ctx context.Context, fn func(bits *big.Int) error) error {
	out := &corev1.RangeAllocation{}
	return a.store.GuaranteedUpdate(ctx, a.key, out, true, nil, func(cur runtime.Object) (runtime.Object, error) {
		ra := cur.(*corev1.RangeAllocation)
		if ra.Range != "" && ra.Range != a.rangeStr {
			return nil, fmt.Errorf("%w: stored %s, configured %s", errRangeChanged, ra.Range, a.rangeStr)
		}
		bits := new(big.Int).SetBytes(ra.Data)
		if err := fn(bits); err != nil {
			return nil, err
		}
		ra.Name = path.Base(a.key)
		ra.Range = a.rangeStr
		ra.Data = bits.Bytes()
		ra.ResourceVersion = ""
		return ra, nil
	})
}

func (a *bitmapAllocator) allocate(ctx context.Context, offset int) error {
	if offset < 0 || offset >= a.size {
		return resources.ErrNotInRange
	}
	return a.update(ctx, func(bits *big.Int) error {
		if bits.Bit(offset) == 1 {
			return resources.ErrAllocated
		}
		bits.SetBit(bits, offset, 1)
		return nil
	})
}

func (a *bitmapAllocator) allocateNext(ctx context.Context) (int, error) {
	var got int
	err := a.update(ctx, func(bits *big.Int) error {
		// Random start in the dynamic band, then the static band.
		for _, band := range [][2]int{{a.staticBand, a.size}, {0, a.staticBand}} {
			n := band[1] - band[0]
			if n <= 0 {
				continue
			}
			start := rand.IntN(n)
			for i := 0; i < n; i++ {
				off := band[0] + (start+i)%n
				if bits.Bit(off) == 0 {
					bits.SetBit(bits, off, 1)
					got = off
					return nil
				}
			}
		}
		return resources.ErrFull
	})
	return got, err
}

func (a *bitmapAllocator) release(ctx context.Context, offset int) error {
	if offset < 0 || offset >= a.size {
		return nil
	}
	return a.update(ctx, func(bits *big.Int) error {
		bits.SetBit(bits, offset, 0)
		return nil
	})
}

// reset replaces the whole bitmap (allocator repair).
func (a *bitmapAllocator) reset(ctx context.Context, offsets []int) error {
	return a.update(ctx, func(bits *big.Int) error {
		bits.SetInt64(0)
		for _, off := range offsets {
			if off >= 0 && off < a.size {
				bits.SetBit(bits, off, 1)
			}
		}
		return nil
	})
}

// ipAllocator hands out ClusterIPs: offset i is base+1+i, so the network
// and broadcast addresses are never given out.
type ipAllocator struct {
	*bitmapAllocator
	cidr *net.IPNet
	base *big.Int
}

var _ resources.IPAllocator = (*ipAllocator)(nil)

func newIPAllocator(st storage.Interface, key string, cidr *net.IPNet) *ipAllocator {
	ones, bits := cidr.Mask.Size()
	size := (1 << (bits - ones)) - 2
	return &ipAllocator{
		bitmapAllocator: newBitmapAllocator(st, key, cidr.String(), size),
		cidr:            cidr,
		base:            new(big.Int).SetBytes(cidr.IP.To16()),
	}
}

func (a *ipAllocator) CIDR() *net.IPNet { return a.cidr }

func (a *ipAllocator) offset(ip net.IP) (int, bool) {
	if !a.cidr.Contains(ip) {
		return 0, false
	}
	off := new(big.Int).Sub(new(big.Int).SetBytes(ip.To16()), a.base).Int64() - 1
	return int(off), off >= 0 && off < int64(a.size)
}

func (a *ipAllocator) ip(offset int) net.IP {
	v := new(big.Int).Add(a.base, big.NewInt(int64(offset)+1))
	b := v.Bytes()
	out := make(net.IP, net.IPv6len)
	copy(out[net.IPv6len-len(b):], b)
	if a.cidr.IP.To4() != nil {
		return out.To4()
	}
	return out
}

func (a *ipAllocator) Allocate(ctx context.Context, ip net.IP) error {
	off, ok := a.offset(ip)
	if !ok {
		return resources.ErrNotInRange
	}
	return a.allocate(ctx, off)
}

func (a *ipAllocator) AllocateNext(ctx context.Context) (net.IP, error) {
	off, err := a.allocateNext(ctx)
	if err != nil {
		return nil, err
	}
	return a.ip(off), nil
}

func (a *ipAllocator) Release(ctx context.Context, ip net.IP) error {
	off, ok := a.offset(ip)
	if !ok {
		return nil
	}
	return a.release(ctx, off)
}

// portAllocator hands out node ports: offset i is base+i.
type portAllocator struct {
	*bitmapAllocator
	base int
}

var _ resources.PortAllocator = (*portAllocator)(nil)

func newPortAllocator(st storage.Interface, key string, base, size int) *portAllocator {
	return &portAllocator{bitmapAllocator: newBitmapAllocator(st, key, fmt.Sprintf("%d-%d", base, base+size-1), size), base: base}
}

func (a *portAllocator) Base() int { return a.base }
func (a *portAllocator) Size() int { return a.size }

func (a *portAllocator) Allocate(ctx context.Context, port int) error {
	return a.allocate(ctx, port-a.base)
}

func (a *portAllocator) AllocateNext(ctx context.Context) (int, error) {
	off, err := a.allocateNext(ctx)
	return a.base + off, err
}

func (a *portAllocator) Release(ctx context.Context, port int) error {
	return a.release(ctx, port-a.base)
}
