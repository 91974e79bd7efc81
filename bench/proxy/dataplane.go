package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// dataplane is the client and backend pods of the topology (topology.go)
// seen from the node namespace this process runs in: an HTTP server
// listening in the backend namespace, and a way to run code in the
// client namespace.
type dataplane struct {
	client netns.NsHandle
	srv    *http.Server
	done   chan struct{}
}

// startDataplane serves HTTP on backendPort on every backend address.
func startDataplane(clientNS, backendNS string) (*dataplane, error) {
	client, err := netns.GetFromName(clientNS)
	if err != nil {
		return nil, fmt.Errorf("client netns %s: %w", clientNS, err)
	}
	backend, err := netns.GetFromName(backendNS)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("backend netns %s: %w", backendNS, err)
	}
	defer backend.Close()
	// A socket belongs to the namespace of the thread that made it, for
	// its whole life: listen there, serve from anywhere.
	var ln net.Listener
	err = inNetns(backend, func() error {
		var err error
		ln, err = net.Listen("tcp4", fmt.Sprintf(":%d", backendPort))
		return err
	})
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("listen in %s: %w", backendNS, err)
	}
	d := &dataplane{client: client, done: make(chan struct{}),
		srv: &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Length", "3")
				_, _ = io.WriteString(w, "ok\n")
			}),
			ErrorLog: log.New(io.Discard, "", 0),
		}}
	go func() { _ = d.srv.Serve(ln); close(d.done) }()
	return d, nil
}

func (d *dataplane) Close() {
	_ = d.srv.Close()
	<-d.done
	d.client.Close()
}

// inNetns runs fn on an OS thread switched into ns, then switches back.
func inNetns(ns netns.NsHandle, fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer func() {
		// A thread that cannot switch back stays locked, and Go ends it
		// with the goroutine instead of reusing it.
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
	}()
	return fn()
}

// connectLatency summarises connect() times in microseconds: the SYN
// out, the SYN-ACK back, established.
type connectLatency struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50_us"`
	P99  float64 `json:"p99_us"`
	Mean float64 `json:"mean_us"`
	Max  float64 `json:"max_us"`
}

func summarizeConnect(d []time.Duration) connectLatency {
	if len(d) == 0 {
		return connectLatency{}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	us := func(x time.Duration) float64 { return float64(x.Nanoseconds()) / 1000 }
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	at := func(p float64) time.Duration { return d[int(float64(len(d)-1)*p/100)] }
	return connectLatency{N: len(d), P50: us(at(50)), P99: us(at(99)), Mean: us(sum / time.Duration(len(d))), Max: us(d[len(d)-1])}
}

// connectTimes connects n times from the client namespace to each target,
// the targets taken in turn so that any drift of the machine hits them
// all alike, and returns each target's connect times.
func (d *dataplane) connectTimes(targets []netip.AddrPort, n int) ([][]time.Duration, error) {
	out := make([][]time.Duration, len(targets))
	err := inNetns(d.client, func() error {
		for range n {
			for t, dst := range targets {
				dt, err := connectOnce(dst, 2*time.Second)
				if err != nil {
					return fmt.Errorf("connect %s: %w", dst, err)
				}
				out[t] = append(out[t], dt)
			}
		}
		return nil
	})
	return out, err
}

// connectOnce times one TCP handshake with raw syscalls (no runtime
// poller in the measured span) and closes the socket with a reset, so
// thousands of samples leave no TIME_WAIT behind.
func connectOnce(dst netip.AddrPort, timeout time.Duration) (time.Duration, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0}); err != nil {
		return 0, err
	}
	sa := &unix.SockaddrInet4{Port: int(dst.Port()), Addr: dst.Addr().As4()}
	t0 := time.Now()
	err = unix.Connect(fd, sa)
	if err != nil && !errors.Is(err, unix.EINPROGRESS) {
		return 0, err
	}
	if err != nil {
		deadline := t0.Add(timeout)
		for {
			left := time.Until(deadline)
			if left <= 0 {
				return 0, fmt.Errorf("timed out after %v", timeout)
			}
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
			n, err := unix.Poll(fds, int(left.Milliseconds())+1)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				return 0, err
			}
			if n > 0 {
				break
			}
		}
	}
	dt := time.Since(t0)
	if soErr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil {
		return 0, err
	} else if soErr != 0 {
		return 0, unix.Errno(soErr)
	}
	return dt, nil
}

// waitReachable waits until a connection to dst succeeds.
func (d *dataplane) waitReachable(dst netip.AddrPort, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var err error
		ierr := inNetns(d.client, func() error { _, err = connectOnce(dst, 200*time.Millisecond); return nil })
		if ierr != nil {
			return ierr
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s unreachable after %v: %w", dst, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// loadRun is what one load run did.
type loadRun struct {
	Requests int64
	Errors   int64
	Elapsed  time.Duration
}

var (
	reqKeepAlive = []byte("GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
	reqClose     = []byte("GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
)

// load sends HTTP requests from conc workers in the client namespace to
// dst for dur. keepAlive: each worker keeps one connection for the whole
// run. Otherwise each request has its own connection, which the server
// closes first (so TIME_WAIT lands on the server, not on the client's
// ports) — every request then pays the per-connection cost: handshake,
// conntrack entry, and, through a ClusterIP, the DNAT rules.
func (d *dataplane) load(dst netip.AddrPort, conc int, dur time.Duration, keepAlive bool) loadRun {
	var reqs, errs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(dur)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Never unlocked: the thread stays in the client namespace
			// and Go ends it with this goroutine.
			runtime.LockOSThread()
			if err := netns.Set(d.client); err != nil {
				errs.Add(1)
				return
			}
			var conn net.Conn
			var br *bufio.Reader
			drop := func() {
				if conn != nil {
					_ = conn.Close()
					conn = nil
				}
			}
			defer drop()
			req := reqKeepAlive
			if !keepAlive {
				req = reqClose
			}
			for time.Now().Before(deadline) {
				if conn == nil {
					c, err := net.DialTimeout("tcp4", dst.String(), 2*time.Second)
					if err != nil {
						errs.Add(1)
						continue
					}
					conn, br = c, bufio.NewReader(c)
					_ = conn.SetDeadline(deadline.Add(2 * time.Second))
				}
				if err := roundTrip(conn, br, req); err != nil {
					if time.Now().Before(deadline) {
						errs.Add(1)
					}
					drop()
					continue
				}
				reqs.Add(1)
				if !keepAlive {
					// Wait for the server's FIN, then close our side.
					_, _ = br.ReadByte()
					drop()
				}
			}
		}()
	}
	wg.Wait()
	return loadRun{Requests: reqs.Load(), Errors: errs.Load(), Elapsed: time.Since(start)}
}

func roundTrip(conn net.Conn, br *bufio.Reader, req []byte) error {
	if _, err := conn.Write(req); err != nil {
		return err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return err
}
