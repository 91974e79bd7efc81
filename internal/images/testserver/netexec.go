package testserver

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// netexec is the general-purpose test server: HTTP endpoints for echo,
// hostname, health (which can be failed on demand), exit codes and dialing
// other pods, plus a UDP server answering "hostname", "echo <msg>" and
// "clientip".
type netexec struct {
	env      *env
	httpPort int
	// unhealthy is set by /health/fail and cleared by /health/ok.
	unhealthy atomic.Bool
	// udpReady is false while an enabled UDP server is not serving.
	udpReady atomic.Bool
	stop     context.CancelCauseFunc
}

func runNetexec(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("netexec", flag.ContinueOnError)
	httpPort := fs.Int("http-port", 8080, "HTTP port")
	udpPort := fs.Int("udp-port", 8081, "UDP port (-1: no UDP server)")
	if _, err := parseFlags(fs, e, args); err != nil {
		return err
	}
	if err := checkPort("http-port", *httpPort, false); err != nil {
		return err
	}
	if err := checkPort("udp-port", *udpPort, true); err != nil {
		return err
	}
	ln, err := listenTCP(e, "http", *httpPort)
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	n := &netexec{env: e, httpPort: ln.Addr().(*net.TCPAddr).Port, stop: stop}
	n.udpReady.Store(*udpPort == -1)
	udpDone := make(chan error, 1)
	if *udpPort != -1 {
		pc, err := listenUDP(e, "udp", *udpPort)
		if err != nil {
			ln.Close()
			return err
		}
		n.udpReady.Store(true)
		go func() {
			err := servePackets(ctx, pc, n.answerUDP)
			n.udpReady.Store(false)
			udpDone <- err
		}()
	} else {
		close(udpDone)
	}
	err = serveHTTP(ctx, ln, n.routes())
	stop(nil)
	if uerr := <-udpDone; err == nil && uerr != nil {
		err = fmt.Errorf("udp server: %w", uerr)
	}
	return err
}

func (n *netexec) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "NOW: %v", time.Now())
	})
	mux.HandleFunc("/clientip", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.RemoteAddr)
	})
	mux.HandleFunc("/serverport", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, n.httpPort)
	})
	mux.HandleFunc("/hostname", n.hostname)
	mux.HandleFunc("/hostName", n.hostname)
	mux.HandleFunc("/echo", echoHandler)
	mux.HandleFunc("/redirect", redirectHandler)
	mux.HandleFunc("/healthz", n.health)
	mux.HandleFunc("/readyz", n.health)
	mux.HandleFunc("/health/fail", func(w http.ResponseWriter, r *http.Request) {
		n.unhealthy.Store(true)
		fmt.Fprint(w, "health checks now fail")
	})
	mux.HandleFunc("/health/ok", func(w http.ResponseWriter, r *http.Request) {
		n.unhealthy.Store(false)
		fmt.Fprint(w, "health checks now succeed")
	})
	mux.HandleFunc("/exit", n.exit)
	mux.HandleFunc("/shutdown", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "shutting down")
		n.stop(stopRequest{code: 0, grace: defaultGrace})
	})
	mux.HandleFunc("/dial", dialHandler)
	return mux
}

func (n *netexec) hostname(w http.ResponseWriter, r *http.Request) {
	fmt.Fprint(w, n.env.hostname)
}

// health answers /healthz and /readyz: 500 after /health/fail, 412 while
// the UDP server is not serving (as agnhost does), else 200.
func (n *netexec) health(w http.ResponseWriter, r *http.Request) {
	switch {
	case n.unhealthy.Load():
		http.Error(w, "unhealthy: /health/fail was called", http.StatusInternalServerError)
	case !n.udpReady.Load():
		http.Error(w, "udp server is not serving", http.StatusPreconditionFailed)
	default:
		fmt.Fprint(w, "ok")
	}
}

// exit stops the server and the process with ?code= (0-127) after ?wait=,
// giving connections ?timeout= to finish (0: none).
func (n *netexec) exit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	code := 0
	if s := q.Get("code"); s != "" {
		c, err := strconv.Atoi(s)
		if err != nil || c < 0 || c > 127 {
			http.Error(w, fmt.Sprintf("code %q must be an integer in [0, 127]", s), http.StatusBadRequest)
			return
		}
		code = c
	}
	grace, err := durationParam(q, "timeout", defaultGrace)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	wait, err := durationParam(q, "wait", 0)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "exiting with code %d", code)
	req := stopRequest{code: code, grace: grace}
	if wait <= 0 {
		n.stop(req)
		return
	}
	time.AfterFunc(wait, func() { n.stop(req) })
}

func durationParam(q url.Values, name string, def time.Duration) (time.Duration, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s %q is not a duration: %v", name, s, err)
	}
	return d, nil
}

// echoHandler returns ?msg=, with status ?code= if given.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if s := q.Get("code"); s != "" {
		c, err := strconv.Atoi(s)
		if err != nil || c < 100 || c > 599 {
			http.Error(w, fmt.Sprintf("code %q is not an HTTP status", s), http.StatusBadRequest)
			return
		}
		w.WriteHeader(c)
	}
	io.WriteString(w, q.Get("msg"))
}

// redirectHandler redirects to ?location= with status ?code= (default 302).
func redirectHandler(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	loc := q.Get("location")
	if loc == "" {
		http.Error(w, "location is required", http.StatusBadRequest)
		return
	}
	code := http.StatusFound
	if s := q.Get("code"); s != "" {
		c, err := strconv.Atoi(s)
		if err != nil || c < 300 || c > 399 {
			http.Error(w, fmt.Sprintf("code %q is not a redirect status", s), http.StatusBadRequest)
			return
		}
		code = c
	}
	http.Redirect(w, r, loc, code)
}

// answerUDP implements the UDP protocol: "hostname", "echo <msg>",
// "clientip".
func (n *netexec) answerUDP(payload []byte, from net.Addr) []byte {
	msg := strings.TrimSpace(string(payload))
	switch {
	case msg == "hostname":
		return []byte(n.env.hostname)
	case msg == "clientip":
		return []byte(from.String())
	case msg == "echo" || strings.HasPrefix(msg, "echo "):
		return []byte(strings.TrimPrefix(strings.TrimPrefix(msg, "echo"), " "))
	default:
		return []byte("unknown command " + strconv.Quote(msg))
	}
}
