package testserver

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// runServeHostname serves the hostname: over HTTP (the default), or raw
// over TCP (written on accept, then closed) and/or UDP (as the answer to
// any datagram).
func runServeHostname(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("serve-hostname", flag.ContinueOnError)
	tcp := fs.Bool("tcp", false, "serve raw over TCP")
	udp := fs.Bool("udp", false, "serve raw over UDP")
	useHTTP := fs.Bool("http", true, "serve HTTP")
	closeConn := fs.Bool("close", false, "close the connection after each HTTP request")
	port := fs.Int("port", 9376, "port")
	if _, err := parseFlags(fs, e, args); err != nil {
		return err
	}
	httpSet := false
	fs.Visit(func(f *flag.Flag) { httpSet = httpSet || f.Name == "http" })
	if (*tcp || *udp) && *useHTTP {
		if httpSet {
			return usagef("--http cannot be combined with --tcp or --udp")
		}
		*useHTTP = false // --tcp/--udp alone mean raw serving
	}
	if !*tcp && !*udp && !*useHTTP {
		return usagef("nothing to serve: give --http, --tcp or --udp")
	}
	if err := checkPort("port", *port, false); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var servers []func() error
	if *useHTTP || *tcp {
		ln, err := listenTCP(e, "tcp", *port)
		if err != nil {
			return err
		}
		if *useHTTP {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if *closeConn {
					w.Header().Set("Connection", "close")
				}
				fmt.Fprint(w, e.hostname)
			})
			servers = append(servers, func() error { return serveHTTP(ctx, ln, h) })
		} else {
			servers = append(servers, func() error {
				return serveConns(ctx, ln, func(c net.Conn) { io.WriteString(c, e.hostname) })
			})
		}
	}
	if *udp {
		pc, err := listenUDP(e, "udp", *port)
		if err != nil {
			return err
		}
		servers = append(servers, func() error {
			return servePackets(ctx, pc, func([]byte, net.Addr) []byte { return []byte(e.hostname) })
		})
	}
	return runAll(cancel, servers)
}

// runAll runs servers until the first returns, stops the rest through
// cancel, and returns the first error.
func runAll(cancel context.CancelFunc, servers []func() error) error {
	errs := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errs <- s() }()
	}
	first := <-errs
	cancel()
	for range len(servers) - 1 {
		if err := <-errs; first == nil {
			first = err
		}
	}
	return first
}

// runLiveness serves /healthz: 200 for --healthy-for after start, 500
// after that, so liveness probes fail and the container restarts.
func runLiveness(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("liveness", flag.ContinueOnError)
	port := fs.Int("port", 8080, "HTTP port")
	healthyFor := fs.Duration("healthy-for", 10*time.Second, "how long /healthz succeeds")
	if _, err := parseFlags(fs, e, args); err != nil {
		return err
	}
	if err := checkPort("port", *port, false); err != nil {
		return err
	}
	started := time.Now()
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if age := time.Since(started); age > *healthyFor {
			http.Error(w, fmt.Sprintf("error: unhealthy after %v", age.Round(time.Second)), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		loc := r.URL.Query().Get("loc")
		if loc == "" {
			http.Error(w, "loc is required", http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, loc, http.StatusFound)
	})
	ln, err := listenTCP(e, "http", *port)
	if err != nil {
		return err
	}
	return serveHTTP(ctx, ln, mux)
}

// runTestWebserver serves the files under --root (default /) over HTTP.
func runTestWebserver(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("test-webserver", flag.ContinueOnError)
	port := fs.Int("port", 80, "HTTP port")
	root := fs.String("root", "/", "directory to serve")
	if _, err := parseFlags(fs, e, args); err != nil {
		return err
	}
	if err := checkPort("port", *port, false); err != nil {
		return err
	}
	ln, err := listenTCP(e, "http", *port)
	if err != nil {
		return err
	}
	return serveHTTP(ctx, ln, http.FileServer(http.Dir(*root)))
}

// runEchoTCP writes back whatever each connection sends.
func runEchoTCP(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("echo-tcp", flag.ContinueOnError)
	port := fs.Int("port", 8080, "TCP port")
	if _, err := parseFlags(fs, e, args); err != nil {
		return err
	}
	if err := checkPort("port", *port, false); err != nil {
		return err
	}
	ln, err := listenTCP(e, "tcp", *port)
	if err != nil {
		return err
	}
	return serveConns(ctx, ln, func(c net.Conn) { _, _ = io.Copy(c, c) })
}

// runEchoUDP answers each datagram with its own payload.
func runEchoUDP(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("echo-udp", flag.ContinueOnError)
	port := fs.Int("port", 8080, "UDP port")
	if _, err := parseFlags(fs, e, args); err != nil {
		return err
	}
	if err := checkPort("port", *port, false); err != nil {
		return err
	}
	pc, err := listenUDP(e, "udp", *port)
	if err != nil {
		return err
	}
	return servePackets(ctx, pc, func(p []byte, _ net.Addr) []byte { return p })
}
