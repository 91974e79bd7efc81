package testserver

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// defaultGrace is how long a server waits for in-flight requests when it
// is told to stop.
const defaultGrace = 5 * time.Second

// stopRequest is the cancel cause a handler sets to stop its server with an
// exit code (netexec's /exit and /shutdown).
type stopRequest struct {
	code  int
	grace time.Duration // 0: close connections at once
}

func (s stopRequest) Error() string { return "stop requested" }

// listenTCP binds a TCP port on all addresses and reports it to the env.
func listenTCP(e *env, name string, port int) (net.Listener, error) {
	ln, err := net.Listen("tcp", hostPort(port))
	if err != nil {
		return nil, err
	}
	e.bound(name, ln.Addr())
	return ln, nil
}

// listenUDP binds a UDP port on all addresses and reports it to the env.
func listenUDP(e *env, name string, port int) (net.PacketConn, error) {
	pc, err := net.ListenPacket("udp", hostPort(port))
	if err != nil {
		return nil, err
	}
	e.bound(name, pc.LocalAddr())
	return pc, nil
}

// serveHTTP serves h on ln until ctx is done. A stopRequest cause decides
// the grace period and is returned as the exit code; plain cancellation
// (a signal) shuts down gracefully and returns nil.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	grace := defaultGrace
	var stop stopRequest
	isStop := errors.As(context.Cause(ctx), &stop)
	if isStop {
		grace = stop.grace
	}
	if grace <= 0 {
		_ = srv.Close()
	} else {
		sctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
	}
	<-served
	if isStop && stop.code != 0 {
		return exitCode(stop.code)
	}
	return nil
}

// servePackets answers each datagram on pc with reply(payload, from) until
// ctx is done; an empty reply sends nothing.
func servePackets(ctx context.Context, pc net.PacketConn, reply func(payload []byte, from net.Addr) []byte) error {
	stop := context.AfterFunc(ctx, func() { _ = pc.Close() })
	defer stop()
	buf := make([]byte, 64*1024)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if out := reply(buf[:n], from); len(out) > 0 {
			_, _ = pc.WriteTo(out, from)
		}
	}
}

// serveConns runs handle for each accepted connection until ctx is done.
func serveConns(ctx context.Context, ln net.Listener, handle func(net.Conn)) error {
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go func() {
			defer c.Close()
			handle(c)
		}()
	}
}
